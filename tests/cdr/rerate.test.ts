/**
 * Rerating after a tariff change moves exactly the price differences, once, and back again; only
 * the rows whose price changed are written; other tenants and periods are left alone; a rerate that
 * stops part way is finished by the next one, exactly.
 */
import { cp, readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool, type RatingPool } from '../../src/cdr/pool.js';
import { rerateCdrs, type RerateOptions } from '../../src/cdr/rerate.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix, connect } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const START = 100_000_000_000;
const ACCOUNTS = [
  ...Array.from({ length: 50 }, (_, i) => ({ tenant: 'acme', id: `r${i + 1}`, n: i + 1 })),
  ...Array.from({ length: 5 }, (_, i) => ({ tenant: 'globex', id: `g${i + 1}`, n: i + 1 })),
];
let tariffDir: string;
let rating: RatingPool;

async function editTariff(edit: (doc: { rates: { id: string; slots: { rate: string }[] }[] }) => void) {
  const doc = JSON.parse(await readFile(join(tariffDir, 'tariff.json'), 'utf8'));
  edit(doc);
  await writeFile(join(tariffDir, 'tariff.json'), JSON.stringify(doc));
  rating.reload();
}

async function setRate(rate: string) {
  await editTariff((doc) => (doc.rates.find((r) => r.id === 'RT_MOBILE_PEAK')!.slots[0]!.rate = rate));
}

/** Money left on the accounts (of one tenant, or all), exactly. */
async function moneyLeft(tenant?: string): Promise<bigint> {
  let total = 0n;
  for (const a of ACCOUNTS.filter((x) => !tenant || x.tenant === tenant))
    total += BigInt((await balances.getAccount(a.tenant, a.id))!.balances[0]!.value);
  return total;
}

interface Stored {
  cost: bigint;
  charged: bigint;
  rerated: number;
  /** The whole row. */
  text: string;
  tenant: string;
  day: string;
}

async function stored(): Promise<Map<string, Stored>> {
  const { rows } = await pool.query(
    // What a CDR took: its charged_nano (never changed) and its rerates' differences (usage_adjustments).
    `SELECT cdr_id, cost_nano::text AS cost, rerated, tenant,
            (charged_nano + coalesce((SELECT sum(a.delta_charged_nano) FROM ${schema}.usage_adjustments a
              WHERE a.tenant = r.tenant AND a.source = 'cdr' AND a.source_id = r.cdr_id), 0))::text AS charged,
            to_char(answer_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, r::text AS text
       FROM ${schema}.rated_cdrs r`,
  );
  return new Map(
    rows.map((r) => [
      r.cdr_id,
      {
        cost: BigInt(r.cost),
        charged: BigInt(r.charged),
        rerated: r.rerated,
        text: r.text,
        tenant: r.tenant,
        day: r.day,
      },
    ]),
  );
}

function sum(m: Map<string, Stored>, f: (s: Stored) => bigint): bigint {
  let t = 0n;
  for (const s of m.values()) t += f(s);
  return t;
}

/** A few mobile calls at peak time: globex's on the rerated day, acme's on the day before. */
function otherRows(): string {
  const lines = [
    'cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group',
  ];
  for (let i = 1; i <= 5; i++) {
    const msisdn = `4477009${String(i).padStart(5, '0')}`;
    lines.push(`x-g-${i},globex,${msisdn},call,voice,+447911123456,2026-11-20T10:0${i}:00.000Z,${37 * i},,`);
    lines.push(`x-a-${i},acme,${msisdn},call,voice,+447911123456,2026-11-19T10:0${i}:00.000Z,${41 * i},,`);
  }
  return lines.join('\n') + '\n';
}

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'rerate-'));
  await cp('tariffs/sample', tariffDir, { recursive: true });
  // globex prices like acme (its own profiles), so a rerate that ignored the tenant would change it.
  const doc = JSON.parse(await readFile(join(tariffDir, 'tariff.json'), 'utf8'));
  doc.ratingProfiles.push(
    ...doc.ratingProfiles
      .filter((p: { tenant: string }) => p.tenant === 'acme')
      .map((p: object) => ({ ...p, tenant: 'globex' })),
  );
  await writeFile(join(tariffDir, 'tariff.json'), JSON.stringify(doc));
  rating = createRatingPool({ tariffDir, threads: 1 });
  await ensureCdrSchema(pool, schema);
  for (const a of ACCOUNTS) {
    await balances.createAccount(
      {
        tenant: a.tenant,
        id: a.id,
        type: 'prepaid',
        currency: 'GBP',
        subject: a.id,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(a.n).padStart(5, '0')}` }],
      },
      'c',
    );
    await balances.addBalance(a.tenant, a.id, { id: 'main', unit: 'money', value: START }, 'b');
  }
  const deps = { balances, pool, schema, rating };
  await importCdrFile(deps, 'cdr-samples/acme-2026-11-20.csv', { fileId: 'day' });
  const other = join(tariffDir, 'other.csv');
  await writeFile(other, otherRows());
  const c = await importCdrFile(deps, other, { fileId: 'other' });
  expect(c.stored).toBe(10);
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
    expect(before - (await moneyLeft())).toBe(BigInt(c.deltaNano));
    const again = await rerateCdrs(deps(), range);
    expect(again).toMatchObject({ changed: 0, deltaNano: 0 });
    expect(before - (await moneyLeft())).toBe(BigInt(c.deltaNano));
  });

  it('refunds the difference when the price goes back', async () => {
    const before = await moneyLeft();
    await setRate('0.15');
    const c = await rerateCdrs(deps(), range);
    expect(c.deltaNano).toBeLessThan(0);
    expect((await moneyLeft()) - before).toBe(BigInt(-c.deltaNano));
    await setRate('0.30');
    const third = await rerateCdrs(deps(), range);
    expect(third.deltaNano).toBe(-c.deltaNano); // back and forth moves the money every time
  });

  it('can be limited to one account', async () => {
    await setRate('0.45');
    const c = await rerateCdrs(deps(), { ...range, tenant: 'acme', accountId: 'r1' });
    const rows = (
      await pool.query(
        `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE account_id = 'r1' AND tenant = 'acme' AND answer_time >= $1 AND answer_time < $2`,
        [range.from, range.to],
      )
    ).rows[0].n;
    expect(c.examined).toBe(rows);
  });

  it('moves exactly the differences, to the nano, and writes only the rows whose price changed', async () => {
    const before = await stored();
    const money = await moneyLeft();
    await setRate('0.2173'); // an odd rate: differences of every size, rounding included
    const c = await rerateCdrs(deps(), { ...range, tenant: 'acme', batchSize: 37 });
    const after = await stored();
    const costDiff = sum(after, (s) => s.cost) - sum(before, (s) => s.cost);
    expect(costDiff).not.toBe(0n);
    expect(money - (await moneyLeft())).toBe(costDiff);
    expect(sum(after, (s) => s.charged) - sum(before, (s) => s.charged)).toBe(costDiff);
    expect(BigInt(c.deltaNano)).toBe(costDiff);
    let changed = 0;
    for (const [id, b] of before) {
      const a = after.get(id)!;
      if (a.cost !== b.cost) {
        changed++;
        expect(a.rerated).toBe(b.rerated + 1);
      } else expect(a.text).toBe(b.text); // untouched, to the byte
    }
    expect(c.changed).toBe(changed);
    expect(c.examined).toBe(
      [...before.values()].filter((s) => s.tenant === 'acme' && s.day === '2026-11-20').length,
    );
    expect(c.unchanged + c.changed).toBe(c.examined);
  });

  it('leaves other tenants and other periods untouched', async () => {
    const before = await stored();
    const globexMoney = await moneyLeft('globex');
    await setRate('0.91');
    await rerateCdrs(deps(), { ...range, tenant: 'acme' });
    const after = await stored();
    const others = [...before].filter(([, s]) => s.tenant !== 'acme' || s.day !== '2026-11-20');
    expect(others.length).toBe(10);
    for (const [id, b] of others) expect(after.get(id)!.text).toBe(b.text);
    expect(await moneyLeft('globex')).toBe(globexMoney);
    // They were not left alone by chance: the same change reprices them when they are asked for.
    const g = await rerateCdrs(deps(), { ...range, tenant: 'globex' });
    expect(g).toMatchObject({ examined: 5, changed: 5 });
    expect(globexMoney - (await moneyLeft('globex'))).toBe(BigInt(g.deltaNano));
  });

  it('a rerate that fails part way is finished by the next one, exactly, even after another tariff change', async () => {
    const before = await stored();
    const money = await moneyLeft();
    await setRate('0.55');
    // Stops after the first batch that moved money (rows rerated before sit last in the table: an
    // UPDATE writes a new version at its end), with batches still to come.
    const failing: RerateOptions = {
      ...range,
      batchSize: 10,
      onProgress: (p) => {
        if (p.changed > 0) throw new Error('stopped');
      },
    };
    await expect(rerateCdrs(deps(), failing)).rejects.toThrow('stopped');
    // Money moved for the first batches, no row written yet: the pending journal holds them.
    expect(await moneyLeft()).not.toBe(money);
    expect([...(await stored())].every(([id, s]) => s.text === before.get(id)!.text)).toBe(true);

    await setRate('0.61'); // the tariff changes again before the rerun
    const c = await rerateCdrs(deps(), range);
    expect(c.recovered).toBeGreaterThan(0);
    expect(c.changed).toBeGreaterThan(c.recovered);
    expect(c.failed).toEqual({});
    const after = await stored();
    const costDiff = sum(after, (s) => s.cost) - sum(before, (s) => s.cost);
    expect(money - (await moneyLeft())).toBe(costDiff);
    // Every CDR here was paid with money: what it was charged is its price, whatever happened.
    for (const s of after.values()) expect(s.charged).toBe(s.cost);

    const again = await rerateCdrs(deps(), range);
    expect(again).toMatchObject({ changed: 0, recovered: 0, deltaNano: 0 });
    expect(money - (await moneyLeft())).toBe(costDiff);
  });

  it('a rerate whose Redis goes away part way is finished exactly by the next one', async () => {
    const before = await stored();
    const money = await moneyLeft();
    const lost = connect();
    await setRate('0.43');
    const failing: RerateOptions = {
      ...range,
      batchSize: 10,
      onProgress: (p) => {
        if (p.changed > 0) lost.disconnect(); // the next batch's money moves fail
      },
    };
    const flaky = createBalanceStore({ redis: lost, keyPrefix: prefix });
    await expect(rerateCdrs({ ...deps(), balances: flaky }, failing)).rejects.toThrow();
    expect(
      (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_rerate_pending`)).rows[0].n,
    ).toBeGreaterThan(0);

    const c = await rerateCdrs(deps(), range);
    expect(c.recovered).toBeGreaterThan(0);
    const after = await stored();
    expect(money - (await moneyLeft())).toBe(sum(after, (s) => s.cost) - sum(before, (s) => s.cost));
    for (const s of after.values()) expect(s.charged).toBe(s.cost);
  });

  it('one rerate at a time: another waits for it, then refuses, changing nothing', async () => {
    const holder = await pool.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext($1))`, [`${schema}.cdr_rerate`]);
      const before = await stored();
      await setRate('0.77');
      await expect(rerateCdrs(deps(), { ...range, lockWaitSeconds: 0.2 })).rejects.toThrow(
        /another rerate .* is running/,
      );
      expect([...(await stored())].every(([id, s]) => s.text === before.get(id)!.text)).toBe(true);
    } finally {
      holder.release(true);
    }
  });

  it('a failed money move keeps the old price of that CDR and is counted', async () => {
    // r2 cannot pay more: its money is gone; its dearer CDRs keep their price, others move on.
    const r2 = (await balances.getAccount('acme', 'r2'))!.balances[0]!;
    await balances.debit('acme', 'r2', {
      opId: 'drain-r2',
      charge: { unit: 'generic', units: 0, amountNano: r2.value },
    });
    const before = await stored();
    const money = await moneyLeft();
    await setRate('0.99');
    const c = await rerateCdrs(deps(), { ...range, tenant: 'acme' });
    expect(c.failed.INSUFFICIENT).toBeGreaterThan(0);
    const after = await stored();
    const r2Rows = await pool.query(`SELECT cdr_id FROM ${schema}.rated_cdrs WHERE account_id = 'r2'`);
    for (const { cdr_id } of r2Rows.rows) expect(after.get(cdr_id)!.text).toBe(before.get(cdr_id)!.text);
    expect(money - (await moneyLeft())).toBe(sum(after, (s) => s.cost) - sum(before, (s) => s.cost));
  });
});
