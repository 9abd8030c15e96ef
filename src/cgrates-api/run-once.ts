/**
 * The facade's one rule for calls made once per Reference (ExecuteAction; SetBalance and
 * AddBalance's Overwrite, whose replays must not set a balance again after it moved): the run
 * record (actions-store.ts, `cgr_action_runs`) holds the call's key and its body's fingerprint.
 */
import { fingerprint } from '../balances/identity.js';
import type { RunKey, RunKind } from './actions-store.js';
import type { CgrContext } from './context.js';
import { exists } from './errors.js';

/** A run's key, the body fingerprinted as the balance store fingerprints its operations. */
export function runKey(k: Omit<RunKey, 'fingerprint' | 'kind'>, kind: RunKind, body: unknown): RunKey | null {
  if (!k.reference) return null;
  return { ...k, kind, fingerprint: fingerprint(`cgr:${kind}`, body) };
}

/**
 * Runs `run` once per Reference (`key` null: no Reference; no PostgreSQL to record it: every time,
 * each write still under its derived op id). The same body again answers as the first time without
 * running; another body under the Reference is refused with EXISTS before anything is written.
 */
export async function oncePerReference(
  c: CgrContext,
  key: RunKey | null,
  run: () => Promise<void>,
): Promise<void> {
  const store = key ? c.actions : undefined;
  if (!key || !store) return run();
  const state = await store.runOf(key);
  if (state === 'other') throw exists('the Reference was used for another request');
  if (state === 'done') return;
  await run();
  await store.recordRun(key);
}
