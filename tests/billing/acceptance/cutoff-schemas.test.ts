/**
 * The cut-off lock is keyed by schema and tenant (cutoff.ts): engines on other schemas of one
 * database, with the same tenant, neither wait for each other's barrier nor hold up each other's
 * writers; on the same schema the barrier still excludes writers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  barrierTestHooks,
  cutLockKey,
  cutOff,
  endSnapshot,
  lockCutShared,
} from '../../../src/billing/run/cutoff.js';
import { testPostgres } from '../../support/postgres.js';

const a = testPostgres();
const b = testPostgres();

afterEach(() => {
  barrierTestHooks.whileExclusive = undefined;
});

/** Starts a cut-off on `a` and returns once it holds its exclusive lock, with a way to let it go. */
async function holdBarrierOnA() {
  let entered!: () => void;
  let release!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  barrierTestHooks.whileExclusive = async () => {
    barrierTestHooks.whileExclusive = undefined; // only this barrier pauses
    entered();
    await gate;
  };
  const cut = cutOff(a.pool, a.schema, 'acme');
  await inside;
  return { cut, release };
}

describe('cut-off lock per schema and tenant', () => {
  it('a barrier on one schema does not block a barrier or a writer of the same tenant on another', async () => {
    const held = await holdBarrierOnA();
    try {
      // Would wait for A's barrier (and time the test out) if the key were the tenant alone.
      const other = await cutOff(b.pool, b.schema, 'acme');
      await endSnapshot(other);
      const writer = await b.pool.connect();
      try {
        await writer.query('BEGIN');
        await lockCutShared(writer, b.schema, ['acme']);
        await writer.query('COMMIT');
      } finally {
        writer.release();
      }
      // On A's own schema a writer's shared lock is refused while the barrier holds it.
      const probe = await b.pool.query<{ got: boolean }>(
        'SELECT pg_try_advisory_lock_shared(hashtext($1)) AS got',
        [cutLockKey(a.schema, 'acme')],
      );
      expect(probe.rows[0]!.got).toBe(false);
    } finally {
      held.release();
      await endSnapshot(await held.cut);
    }
  });

  it('the key names the schema and the tenant', () => {
    expect(cutLockKey('s1', 'acme')).not.toBe(cutLockKey('s2', 'acme'));
    expect(cutLockKey('s1', 'acme')).toBe('billing-cut:s1:acme');
  });
});
