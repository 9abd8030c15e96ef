/**
 * The facade's one rule for calls made once per Reference (ExecuteAction; SetBalance and
 * AddBalance's Overwrite, whose replays must not set a balance again after it moved): the run
 * record (actions-store.ts, `cgr_action_runs`) holds the call's key, its body's fingerprint and
 * whether it is running or done.
 */
import { fingerprint } from '../balances/identity.js';
import type { RunKey, RunKind } from './actions-store.js';
import type { CgrContext } from './context.js';
import { CgrError, exists } from './errors.js';

/** A run's key, the body fingerprinted as the balance store fingerprints its operations. */
export function runKey(k: Omit<RunKey, 'fingerprint' | 'kind'>, kind: RunKind, body: unknown): RunKey | null {
  if (!k.reference) return null;
  return { ...k, kind, fingerprint: fingerprint(`cgr:${kind}`, body) };
}

/** A refusal (the caller's request, not the engine, failed): what a refused request changes is nothing. */
const refused = (err: unknown) => err instanceof CgrError && !err.message.startsWith('SERVER_ERROR');

/**
 * Runs `run` once per Reference (`key` null: no Reference; no PostgreSQL to record it: every time,
 * each write still under its derived op id). The Reference is claimed before the first write (one
 * row per Reference, whatever the body), so two bodies racing under it cannot both run: the loser
 * is refused with EXISTS before anything is written. The same body again answers OK without
 * running once the run is done, and finishes a run that stopped halfway (each write replays under
 * its op id). `run` calls `wrote()` once a write is done: a refusal before that gives the claim
 * back, so a refused request leaves no row; after it the claim stays, for the retry to finish.
 */
export async function oncePerReference(
  c: CgrContext,
  key: RunKey | null,
  run: (wrote: () => void) => Promise<void>,
): Promise<void> {
  const store = key ? c.actions : undefined;
  if (!key || !store) return run(() => {});
  const state = await store.claimRun(key);
  if (state === 'other') throw exists('the Reference was used for another request');
  if (state === 'done') return;
  let written = false;
  try {
    await run(() => (written = true));
  } catch (err) {
    // Only this call's own claim: a resumed run may have written before it stopped.
    if (state === 'claimed' && !written && refused(err))
      await store.releaseRun(key).catch((e: unknown) => c.log.warn({ err: e }, 'cgrates run claim kept'));
    throw err;
  }
  await store.finishRun(key);
}
