/**
 * When a failed delivery is tried again, and what an answer means. Pure. The schedule is Svix's
 * (immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 h in all), each wait
 * spread by ±10 % so endpoints that failed together do not come back together. A 429 or 503 with
 * `Retry-After` waits what it asks (clamped to 1 s..24 h). 410 Gone disables the endpoint.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const JITTER = 0.1;
const RETRY_AFTER_MIN_MS = 1_000;
const RETRY_AFTER_MAX_MS = 86_400_000;

export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; afterMs: number }
  | { kind: 'failed' } // the schedule is spent
  | { kind: 'gone' }; // 410: the endpoint is disabled

/**
 * `attempts`: attempts made so far, this one included; `random` in [0, 1). `status` 0: no answer
 * (refused, timed out, reset).
 */
export function outcomeOf(a: {
  status: number;
  retryAfterMs: number | null;
  attempts: number;
  random: number;
  delaysMs?: readonly number[];
}): Outcome {
  if (a.status >= 200 && a.status < 300) return { kind: 'delivered' };
  if (a.status === 410) return { kind: 'gone' };
  const base = (a.delaysMs ?? RETRY_DELAYS_MS)[a.attempts - 1];
  if (base === undefined) return { kind: 'failed' };
  if ((a.status === 429 || a.status === 503) && a.retryAfterMs !== null)
    return {
      kind: 'retry',
      afterMs: Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, a.retryAfterMs)),
    };
  return { kind: 'retry', afterMs: Math.round(base * (1 - JITTER + 2 * JITTER * a.random)) };
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | null {
  if (header === undefined) return null;
  const t = header.trim();
  if (/^\d{1,9}$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
