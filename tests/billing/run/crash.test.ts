/**
 * Crash safety (billing.md E.6 #8): a run killed (SIGKILL) right after a step committed — closing
 * periods, drafting, finalizing a chunk, renewing — and started again for the same asOf ends with
 * the same documents as a run that was never killed (hash-equal canonical JSON), numbers 1..n with
 * no gap, and each postpaid balance carrying its invoice exactly once.
 */
import { spawn } from 'node:child_process';
import type { Pool } from 'pg';
import type { RedisClient as Redis } from '../../../src/infra/redis.js';
import { describe, expect, it } from 'vitest';
import { runBilling, runLockKey } from '../../../src/billing/run/run.js';
import { databaseUrl, testPostgres } from '../../support/postgres.js';
import { redisEnv, testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, moneyOf, runDeps, storeRecord } from './support.js';

const AS_OF = '2026-12-01T00:00:00Z';
const NOW_MS = Date.parse('2026-12-05T00:00:00Z');
const ACCOUNTS = ['a1', 'a2', 'a3', 'a4', 'a5'];
const worlds = [
  { ...testPostgres(), ...testRedis() },
  { ...testPostgres(), ...testRedis() },
];

/** Five postpaid accounts with a fee and a session each (amounts that make tax round). */
async function build(w: { pool: Pool; schema: string; redis: Redis; prefix: string }) {
  await ensureAll(w.pool, w.schema);
  await addVat(w.pool, w.schema);
  const { balances } = runDeps(w.pool, w.schema, w.redis, w.prefix, NOW_MS);
  for (const [i, id] of ACCOUNTS.entries()) {
    await addAccount(balances, w.pool, w.schema, { id, createdAt: '2026-11-01T00:00:00Z', taxProfile: 'uk' });
    await applyFee(balances, w.pool, w.schema, id, `fee:${id}:2026-11-01`, 10_010_000_000 + i * 7_770_000);
    await balances.debit('acme', id, {
      opId: `sess:${id}`,
      charge: { unit: 'generic', units: 0, amountNano: 12_345_678 * (i + 1) },
      force: true,
    });
    await storeRecord(w.pool, w.schema, {
      record_id: `session:${id}:1`,
      account_id: id,
      cost_nano: 12_345_678 * (i + 1),
    });
  }
}

function killedRun(w: (typeof worlds)[0], fault: string): Promise<number | null> {
  const child = spawn('node', ['--import', 'tsx', 'tests/billing/run/run-child.ts'], {
    env: {
      ...process.env,
      ...redisEnv(),
      DATABASE_URL: databaseUrl(),
      KEY_PREFIX: w.prefix,
      DB_SCHEMA: w.schema,
      AS_OF,
      NOW_MS: String(NOW_MS),
      CHUNK: '2',
      BILLING_FAULT: fault,
    },
    stdio: 'ignore',
  });
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal === 'SIGKILL' ? null : code)),
  );
}

/**
 * A killed run's session outlives its process for a moment (PostgreSQL ends it when it reads the
 * closed socket); its run lock goes with it. Waits for that, as an operator retries a 409.
 */
async function lockFreed(w: (typeof worlds)[0]): Promise<void> {
  const key = runLockKey(w.schema, 'acme');
  for (let i = 0; i < 200; i++) {
    const c = await w.pool.connect();
    try {
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]);
      if (r.rows[0]!.ok) {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
        return;
      }
    } finally {
      c.release();
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error('the killed run still holds its lock after 10 s');
}

async function documents(w: (typeof worlds)[0]) {
  const r = await w.pool.query(
    `SELECT account_id, number, status, document_hash AS hash, amount_due_nano::text AS due
       FROM ${w.schema}.invoices ORDER BY account_id`,
  );
  return r.rows;
}

describe('a billing run killed at each step boundary', () => {
  it('ends, after reruns, with the documents of a run never killed', async () => {
    const [a, b] = worlds as [(typeof worlds)[0], (typeof worlds)[0]];
    await build(a);
    await build(b);
    // The reference: one run, never killed.
    const ref = await runBilling(runDeps(b.pool, b.schema, b.redis, b.prefix, NOW_MS), {
      tenant: 'acme',
      asOf: new Date(AS_OF),
    });
    expect(ref).toMatchObject({ status: 'done', counters: { finalized: 5 } });
    // Killed after chunk 2's periods closed, after its drafts, after its finalization, after renewals.
    for (const fault of [
      'after:close:chunk:2',
      'after:draft:chunk:2',
      'after:finalize:chunk:2',
      'after:renew',
    ]) {
      await lockFreed(a);
      expect(await killedRun(a, fault)).toBeNull();
    }
    await lockFreed(a);
    const deps = runDeps(a.pool, a.schema, a.redis, a.prefix, NOW_MS);
    const last = await runBilling(deps, { tenant: 'acme', asOf: new Date(AS_OF) });
    expect(last.status).toBe('done');

    const got = await documents(a);
    expect(got).toEqual(await documents(b));
    expect(got.map((d) => d.number)).toEqual(ACCOUNTS.map((_, i) => `INV2026-00000${i + 1}`));
    expect(new Set(got.map((d) => d.status))).toEqual(new Set(['finalized']));
    for (const d of got) expect(await moneyOf(deps.balances, d.account_id)).toBe(-BigInt(d.due));
  }, 240_000);
});
