/**
 * A CDR import killed in the middle, then run again: the rerun goes on where the killed one had
 * stored up to, every CDR is stored once and charged once, and the money that left the accounts is
 * exactly what the stored CDRs say was charged.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { redisEnv, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const file = join(tmpdir(), `cdr-kill-${process.pid}.csv`);
const LINES = 40_000;
const START = 1_000_000_000_000;

beforeAll(async () => {
  await ensureCdrSchema(pool, schema);
  await generateCdrFile(file, { lines: LINES, seed: 99 });
  for (let i = 1; i <= 50; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `k${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `k${i}`,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(i).padStart(5, '0')}` }],
      },
      'c',
    );
    await balances.addBalance('acme', `k${i}`, { id: 'main', unit: 'money', value: START }, 'b');
  }
});
afterAll(() => rating.close());

async function storedCount(): Promise<number> {
  return (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.rated_cdrs`)).rows[0].n;
}

describe('a killed import', () => {
  it('ends, after a rerun, with every CDR stored once and charged once', async () => {
    const child = spawn('node', ['--import', 'tsx', 'src/cli/main.ts', 'cdr', 'import', file], {
      env: {
        ...process.env,
        ...redisEnv(), // REDIS_URL, or REDIS_CLUSTER_NODES on a Cluster
        DATABASE_URL: databaseUrl(),
        KEY_PREFIX: prefix,
        DB_SCHEMA: schema,
        TARIFF_DIR: 'tariffs/sample',
        CDR_CHUNK_KIB: '32', // many batches: the kill falls inside one
      },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 3000 && (await storedCount()) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    const partial = await storedCount();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(LINES);

    const c = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: file });
    // The rerun goes on after the last chunk the killed one stored (line 1 is the header).
    expect(c.resumedAfterLine).toBeGreaterThan(1);
    expect(c.resumedAfterLine - 1 + c.stored + c.duplicates).toBe(LINES);
    expect(await storedCount()).toBe(LINES);
    const charged = Number(
      (await pool.query(`SELECT sum(charged_nano)::text AS s FROM ${schema}.rated_cdrs`)).rows[0].s,
    );
    let left = 0;
    for (let i = 1; i <= 50; i++) left += (await balances.getAccount('acme', `k${i}`))!.balances[0]!.value;
    expect(START * 50 - left).toBe(charged);
  });
});
