/** Rerating after a tariff change moves exactly the price differences, once, and back again. */
import { cp, readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool, type RatingPool } from '../../src/cdr/pool.js';
import { rerateCdrs } from '../../src/cdr/rerate.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const START = 100_000_000_000;
let tariffDir: string;
let rating: RatingPool;

async function setRate(rate: string) {
  const doc = JSON.parse(await readFile(join(tariffDir, 'tariff.json'), 'utf8'));
  doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = rate;
  await writeFile(join(tariffDir, 'tariff.json'), JSON.stringify(doc));
  rating.reload();
}

async function moneyLeft(): Promise<number> {
  let total = 0;
  for (let i = 1; i <= 50; i++) total += (await balances.getAccount('acme', `r${i}`))!.balances[0]!.value;
  return total;
}

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'rerate-'));
  await cp('tariffs/sample', tariffDir, { recursive: true });
  rating = createRatingPool({ tariffDir, threads: 1 });
  await ensureCdrSchema(pool, schema);
  for (let i = 1; i <= 50; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `r${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `r${i}`,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(i).padStart(5, '0')}` }],
      },
      'c',
    );
    await balances.addBalance('acme', `r${i}`, { id: 'main', unit: 'money', value: START }, 'b');
  }
  await importCdrFile({ balances, pool, schema, rating }, 'cdr-samples/acme-2026-11-20.csv', {
    fileId: 'day',
  });
});
afterAll(() => rating.close());

describe('rerating', () => {
  const deps = () => ({ pool, schema, rating, balances });
  const range = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };

  it('charges the difference of a dearer tariff, exactly, and only once', async () => {
    const before = await moneyLeft();
    const costs = async () =>
      Number((await pool.query(`SELECT sum(cost_nano)::text AS s FROM ${schema}.rated_cdrs`)).rows[0].s);
    const oldTotal = await costs();
    await setRate('0.30'); // UK mobile peak: 15p -> 30p a minute
    const c = await rerateCdrs(deps(), range);
    expect(c.changed).toBeGreaterThan(0);
    expect(c.failed).toEqual({});
    expect(c.deltaNano).toBe((await costs()) - oldTotal);
    expect(before - (await moneyLeft())).toBe(c.deltaNano);
    const again = await rerateCdrs(deps(), range);
    expect(again).toMatchObject({ changed: 0, deltaNano: 0 });
    expect(before - (await moneyLeft())).toBe(c.deltaNano);
  });

  it('refunds the difference when the price goes back', async () => {
    const before = await moneyLeft();
    await setRate('0.15');
    const c = await rerateCdrs(deps(), range);
    expect(c.deltaNano).toBeLessThan(0);
    expect((await moneyLeft()) - before).toBe(-c.deltaNano);
    await setRate('0.30');
    const third = await rerateCdrs(deps(), range);
    expect(third.deltaNano).toBe(-c.deltaNano); // back and forth moves the money every time
  });

  it('can be limited to one account', async () => {
    await setRate('0.45');
    const c = await rerateCdrs(deps(), { ...range, tenant: 'acme', accountId: 'r1' });
    const rows = (
      await pool.query(
        `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE account_id = 'r1' AND answer_time >= $1 AND answer_time < $2`,
        [range.from, range.to],
      )
    ).rows[0].n;
    expect(c.examined).toBe(rows);
  });
});
