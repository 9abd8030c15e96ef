/**
 * A rerate killed (SIGKILL) part way, then run again: money moved before the kill is not moved
 * twice, the rest is moved once, and every CDR ends charged exactly its new price.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool, type RatingPool } from '../../src/cdr/pool.js';
import { rerateCdrs } from '../../src/cdr/rerate.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { redisEnv, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const DAY = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };
const LINES = 30_000;
const START = 1_000_000_000_000;
let dir: string;
let rating: RatingPool;

async function moneyLeft(): Promise<bigint> {
  let total = 0n;
  for (let i = 1; i <= 50; i++)
    total += BigInt((await balances.getAccount('acme', `k${i}`))!.balances[0]!.value);
  return total;
}

async function sums(): Promise<{ cost: bigint; charged: bigint; mismatched: number }> {
  const { rows } = await pool.query(
    // What a CDR took: its charged_nano (never changed) and its rerates' differences (usage_adjustments).
    `SELECT sum(cost_nano)::text AS cost, sum(charged)::text AS charged,
            count(*) FILTER (WHERE cost_nano <> charged)::int AS mismatched
       FROM (SELECT cost_nano, charged_nano + coalesce((SELECT sum(a.delta_charged_nano) FROM ${schema}.usage_adjustments a
              WHERE a.tenant = r.tenant AND a.source = 'cdr' AND a.source_id = r.cdr_id), 0) AS charged
               FROM ${schema}.rated_cdrs r) x`,
  );
  return { cost: BigInt(rows[0].cost), charged: BigInt(rows[0].charged), mismatched: rows[0].mismatched };
}

async function pending(): Promise<number> {
  const { rows } = await pool
    .query(`SELECT count(*)::int AS n FROM ${schema}.cdr_rerate_pending`)
    .catch(() => ({ rows: [{ n: 0 }] })); // not created yet
  return rows[0].n;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rerate-kill-'));
  await cp('tariffs/sample', join(dir, 'tariff'), { recursive: true });
  rating = createRatingPool({ tariffDir: join(dir, 'tariff'), threads: 1 });
  await ensureCdrSchema(pool, schema);
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
  const file = join(dir, 'day.csv');
  await generateCdrFile(file, { lines: LINES, seed: 7 });
  const c = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: 'day' });
  expect(c.stored).toBe(LINES);
  // Dearer UK mobile calls at peak time: a few percent of the CDRs change price.
  const doc = JSON.parse(await readFile(join(dir, 'tariff', 'tariff.json'), 'utf8'));
  doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = '0.2173';
  await writeFile(join(dir, 'tariff', 'tariff.json'), JSON.stringify(doc));
  rating.reload();
}, 120_000);
afterAll(() => rating.close());

describe('a killed rerate', () => {
  it('ends, after a rerun, with each difference moved exactly once', async () => {
    const before = await sums();
    const money = await moneyLeft();
    const child = spawn('node', ['--import', 'tsx', 'tests/support/rerate-child.ts', DAY.from, DAY.to], {
      env: {
        ...process.env,
        ...redisEnv(), // REDIS_URL, or REDIS_CLUSTER_NODES on a Cluster
        DATABASE_URL: databaseUrl(),
        KEY_PREFIX: prefix,
        DB_SCHEMA: schema,
        TARIFF_DIR: join(dir, 'tariff'),
        BATCH_SIZE: '300', // many batches: the kill falls between two
      },
      stdio: 'ignore',
    });
    let exited = false;
    const exit = new Promise((r) => child.once('exit', r)).then(() => (exited = true));
    for (let i = 0; i < 6000 && !exited && (await pending()) === 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exit;
    expect(await pending()).toBeGreaterThan(0); // killed part way: changes journaled, not applied
    expect((await sums()).cost).toBe(before.cost);

    const c = await rerateCdrs({ pool, schema, rating, balances }, DAY);
    expect(c.recovered).toBeGreaterThan(0);
    expect(c.failed).toEqual({});
    const after = await sums();
    expect(after.cost).not.toBe(before.cost);
    expect(after.mismatched).toBe(0); // every CDR charged its price
    expect(money - (await moneyLeft())).toBe(after.cost - before.cost);

    const again = await rerateCdrs({ pool, schema, rating, balances }, DAY);
    expect(again).toMatchObject({ changed: 0, recovered: 0, deltaNano: 0 });
  }, 120_000);
});
