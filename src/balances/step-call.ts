/**
 * Runs a charging step (step.ts, lua/step.lua) on an account with its sweep hint, session index and
 * outbox mark: inside the script on a standalone Redis (one command per request), around it on a
 * Cluster (those keys live in other slots).
 */
import { dirtyOutboxesKey, dueSessionsKey, sessionIndexKey } from './keys.js';
import { runScript, type Verb } from './scripts.js';
import type { SessionIndex } from './session-index.js';
import { decodeStep, stepArgs, type StepOutcome, type StepRequest } from './step.js';
import type { StoreContext } from './store-context.js';

export function createStepCall(ctx: StoreContext, sessions: SessionIndex) {
  const { redis, ks, cluster, now, keysOf } = ctx;

  /**
   * Runs a script that may write to the account's outbox, and marks the outbox dirty beside it, so
   * the drain finds what it wrote. The mark may land before the script (on a Cluster it goes to
   * another node); what the drain then misses stays for the next mark or the periodic full pass. A
   * mark without a write costs one empty read.
   */
  async function run(verb: Verb, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const [out] = await Promise.all([
      runScript(redis, verb, keys, argv),
      redis.sadd(dirtyOutboxesKey(ks), keys[5]!),
    ]);
    return out;
  }

  return async function step(tenant: string, id: string, req: StepRequest): Promise<StepOutcome> {
    const k = await keysOf(tenant, id);
    const sid = req.session?.id;
    const keys = [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, sid ? k.session(sid) : k.op(req.stepId)];
    const argv = [req.stepId, req.fingerprint, now(), req.retentionSeconds, id, ...stepArgs(req)];
    const due = req.session?.dueMs;
    if (!cluster) {
      keys.push(
        dirtyOutboxesKey(ks),
        dueSessionsKey(ks),
        sid ? sessionIndexKey(ks, tenant, sid) : k.op(req.stepId),
      );
      argv.push(
        due === undefined ? '' : `${tenant}\u0000${sid}`,
        due ?? '',
        req.session?.index ? req.retentionSeconds : '',
      );
      return decodeStep(await runScript(redis, 'step', keys, argv), req.ops);
    }
    const [, out] = await Promise.all([
      req.session?.index ? sessions.indexSession(tenant, sid!, id, req.retentionSeconds) : null,
      run('step', keys, argv),
    ]);
    const outcome = decodeStep(out, req.ops);
    if (outcome.status === 'APPLIED' && due !== undefined) await sessions.hintSession(tenant, sid!, due);
    return outcome;
  };
}
