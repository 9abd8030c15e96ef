/**
 * Go's time.Time as encoding/json writes it (time.RFC3339Nano): the fraction only as long as it
 * needs ("10:15:00Z", "10:15:00.5Z", never ".000Z"), "Z" for a zero offset. Every time.Time the
 * facade answers goes through here, so a client comparing times as text sees what CGRateS sends.
 */

/** Go's zero time.Time: what CGRateS writes for "never" (a balance without expiry, …). */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/;

/** A time (epoch milliseconds, a Date or an ISO text the engine stored) in UTC, as Go writes it. */
export function goTime(t: number | Date | string): string {
  return goTimeText(new Date(t).toISOString());
}

/**
 * An RFC 3339 time written as Go would write it after parsing it: its offset kept (Go keeps the
 * parsed zone), "+00:00" as "Z", the fraction's trailing zeros dropped. Anything else is returned
 * as given (callers validate their input first).
 */
export function goTimeText(s: string): string {
  const m = RFC3339.exec(s);
  if (!m) return s;
  const [, base, frac = '', zone] = m;
  const f = frac.slice(0, 9).replace(/0+$/, ''); // Go keeps nanoseconds at most
  return `${base}${f ? `.${f}` : ''}${zone === '+00:00' || zone === '-00:00' ? 'Z' : zone}`;
}
