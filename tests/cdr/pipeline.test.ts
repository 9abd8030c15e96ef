/**
 * A CDR file end to end on the real Redis and PostgreSQL: read, rate on the worker pool, charge,
 * store. The same file twice charges and stores once; broken lines and unknown subscribers are kept
 * as rejects; the money charged is exactly what left the accounts.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCdrFile, type ImportDeps } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps: ImportDeps = { balances, pool, schema, rating };
const START = 100_000_000_000; // 100 GBP each
const subscribers = Array.from({ length: 50 }, (_, i) => `4477009${String(i + 1).padStart(5, '0')}`);

beforeAll(async () => {
  await ensureCdrSchema(pool, schema);
  for (const [i, msisdn] of subscribers.entries()) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `s${i + 1}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `s${i + 1}`,
        subscriptions: [{ type: 'msisdn', value: msisdn }],
      },
      'c',
    );
    await balances.addBalance('acme', `s${i + 1}`, { id: 'main', unit: 'money', value: START }, 'b');
  }
});
afterAll(() => rating.close());

async function moneyLeft(): Promise<number> {
  let total = 0;
  for (let i = 1; i <= subscribers.length; i++)
    total += (await balances.getAccount('acme', `s${i}`))!.balances[0]!.value;
  return total;
}

describe('importing a CDR file', () => {
  it('stores and charges every good line once and keeps every bad one as a reject', async () => {
    const c = await importCdrFile(deps, 'cdr-samples/acme-2026-11-20.csv', {
      fileId: 'acme-2026-11-20',
      chunkBytes: 4096, // many chunks
    });
    expect(c).toMatchObject({
      read: 405,
      stored: 400,
      duplicates: 0,
      rejected: {
        MISSING_FIELD: 1,
        INVALID_TIME: 1,
        INVALID_USAGE: 1,
        UNKNOWN_SERVICE: 1,
        MALFORMED_LINE: 1,
      },
    });
    const stored = await pool.query(
      `SELECT count(*)::int AS n, sum(charged_nano)::text AS charged FROM ${schema}.rated_cdrs`,
    );
    expect(stored.rows[0].n).toBe(400);
    expect(Number(stored.rows[0].charged)).toBe(c.chargedNano);
    expect(START * subscribers.length - (await moneyLeft())).toBe(c.chargedNano);
    const rejects = await pool.query(`SELECT line, reason FROM ${schema}.cdr_rejects ORDER BY line`);
    expect(rejects.rows.map((r) => r.reason)).toEqual([
      'MISSING_FIELD',
      'INVALID_TIME',
      'INVALID_USAGE',
      'UNKNOWN_SERVICE',
      'MALFORMED_LINE',
    ]);
  });

  it('the same file again changes nothing', async () => {
    const before = await moneyLeft();
    const c = await importCdrFile(deps, 'cdr-samples/acme-2026-11-20.csv.gz', { fileId: 'acme-2026-11-20' });
    expect(c).toMatchObject({ read: 405, stored: 0, duplicates: 400, chargedNano: 0 });
    expect(await moneyLeft()).toBe(before);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_rejects`)).rows[0].n).toBe(5);
  });

  it('charges thousands of CDRs of one account one by one, in order, bundle first then money', async () => {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: 'heavy',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'heavy',
        subscriptions: [{ type: 'msisdn', value: '447700999001' }],
      },
      'c',
    );
    await balances.addBalance('acme', 'heavy', { id: 'main', unit: 'money', value: 100 * START }, 'b');
    // 5,000 minutes: the first 5,000 one-minute calls of the file.
    await balances.addBalance('acme', 'heavy', { id: 'mins', unit: 'voice', value: 5000 * 60e9 }, 'v');
    const path = join(tmpdir(), `cdr-heavy-${process.pid}.csv`);
    const lines = Array.from(
      { length: 9000 },
      (_, i) => `h${i},acme,447700999001,call,voice,+442071234567,2026-11-20T10:00:00Z,60`,
    );
    writeFileSync(
      path,
      `cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n${lines.join('\n')}\n`,
    );
    const c = await importCdrFile(deps, path, { fileId: 'heavy' });
    expect(c).toMatchObject({ read: 9000, stored: 9000 });
    const rows = await pool.query(
      `SELECT line, charged_nano::text AS charged, cost_nano::text AS cost FROM ${schema}.rated_cdrs WHERE file_id = 'heavy' ORDER BY line`,
    );
    const charged = rows.rows.map((r) => Number(r.charged));
    expect(charged.slice(0, 5000).every((v) => v === 0)).toBe(true);
    expect(rows.rows.slice(5000).every((r) => r.charged === r.cost && Number(r.cost) > 0)).toBe(true);
    const after = (await balances.getAccount('acme', 'heavy'))!.balances;
    expect(after.find((b) => b.id === 'mins')!.value).toBe(0);
    expect(100 * START - after.find((b) => b.id === 'main')!.value).toBe(charged.reduce((a, b) => a + b, 0));
    expect(c.chargedNano).toBe(charged.reduce((a, b) => a + b, 0));
  });

  it('a truncated gzip file fails with a clear error after storing (and charging) what could be read', async () => {
    const lines = Array.from(
      { length: 20_000 },
      (_, i) => `t${i},acme,447700900002,call,voice,+442071234567,2026-11-20T11:00:00Z,${1 + (i % 90)}`,
    );
    const whole = gzipSync(
      `cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n${lines.join('\n')}\n`,
    );
    const path = join(tmpdir(), `cdr-cut-${process.pid}.csv.gz`);
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const before = (await balances.getAccount('acme', 's2'))!.balances[0]!.value;
    await expect(importCdrFile(deps, path, { fileId: 'cut', chunkBytes: 16_384 })).rejects.toThrow(
      /unexpected end/i,
    );
    const stored = await pool.query(
      `SELECT count(*)::int AS n, coalesce(sum(charged_nano), 0)::text AS charged FROM ${schema}.rated_cdrs WHERE file_id = 'cut'`,
    );
    expect(stored.rows[0].n).toBeGreaterThan(0);
    expect(stored.rows[0].n).toBeLessThan(20_000);
    const after = (await balances.getAccount('acme', 's2'))!.balances[0]!.value;
    expect(before - after).toBe(Number(stored.rows[0].charged));
  });

  it('feeds a file again whole: a CDR refused for credit is charged after a top-up, the rest are duplicates', async () => {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: 'poor',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'poor',
        subscriptions: [{ type: 'msisdn', value: '447700999002' }],
      },
      'c',
    );
    await balances.addBalance('acme', 'poor', { id: 'main', unit: 'money', value: 0 }, 'b');
    const path = join(tmpdir(), `cdr-poor-${process.pid}.csv`);
    writeFileSync(
      path,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n' +
        'p1,acme,447700900003,call,voice,+442071234567,2026-11-20T12:00:00Z,60\n' +
        'p2,acme,447700999002,call,voice,+442071234567,2026-11-20T12:00:00Z,60\n',
    );
    expect(await importCdrFile(deps, path, { fileId: 'poor' })).toMatchObject({
      stored: 1,
      rejected: { INSUFFICIENT_CREDIT: 1 },
    });
    await balances.credit('acme', 'poor', {
      opId: 'top-up',
      balanceId: 'main',
      amount: 1_000_000_000,
      kind: 'topup',
    });
    const again = await importCdrFile(deps, path, { fileId: 'poor' });
    expect(again).toMatchObject({ resumedAfterLine: 0, read: 2, stored: 1, duplicates: 1, rejected: {} });
    expect((await balances.getAccount('acme', 'poor'))!.balances[0]!.value).toBe(
      1_000_000_000 - again.chargedNano,
    );
  });

  it('charges in file order when a chunk names a subscriber the import has not seen yet', async () => {
    // One account, two numbers; the second first appears in the middle of the second chunk.
    await balances.createAccount(
      {
        tenant: 'acme',
        id: 'twin',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'twin',
        subscriptions: [
          { type: 'msisdn', value: '447700999010' },
          { type: 'msisdn', value: '447700999011' },
        ],
      },
      'c',
    );
    const call = { tenant: 'acme', category: 'call', subject: 'twin', tor: 'voice' };
    const event = { ...call, destination: '+442071234567', startTime: '2026-11-20T12:00:00Z', usage: 60 };
    const [priced] = await rating.rate([event]);
    if (!priced?.ok) throw new Error('the sample tariff prices a call');
    const price = Number(priced.costNano);
    // Enough for four calls, not five: in file order the fifth (w5) is the first refused.
    await balances.addBalance('acme', 'twin', { id: 'main', unit: 'money', value: 5 * price - 1 }, 'b');
    const line = (id: string, msisdn: string) =>
      `${id},acme,${msisdn},call,voice,+442071234567,2026-11-20T12:00:00Z,60\n`;
    // The first chunk is its two lines (long ids make it as long as the four lines after it).
    const pad = 'x'.repeat(80);
    const first = line(`w1${pad}`, '447700999010') + line(`w2${pad}`, '447700999010');
    const path = join(tmpdir(), `cdr-twin-${process.pid}.csv`);
    const header = 'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n';
    writeFileSync(
      path,
      header +
        first +
        line('w3', '447700999010') +
        line('w4', '447700999011') +
        line('w5', '447700999010') +
        line('w6', '447700999011'),
    );
    const c = await importCdrFile(deps, path, { fileId: 'twin', chunkBytes: first.length });
    expect(c).toMatchObject({ stored: 4, rejected: { INSUFFICIENT_CREDIT: 2 } });
    const stored = await pool.query(
      `SELECT cdr_id FROM ${schema}.rated_cdrs WHERE file_id = 'twin' ORDER BY cdr_id`,
    );
    expect(stored.rows.map((r) => r.cdr_id.slice(0, 2))).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect((await balances.getAccount('acme', 'twin'))!.balances[0]!.value).toBe(price - 1);
  });

  it('rejects an unknown subscriber and a number no tariff prices', async () => {
    const path = join(tmpdir(), `cdr-${process.pid}.csv`);
    writeFileSync(
      path,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\nu1,acme,449999999999,call,voice,+442071234567,2026-11-20T10:00:00Z,60\nu2,acme,447700900001,nope,voice,+442071234567,2026-11-20T10:00:00Z,60\n',
    );
    const c = await importCdrFile(deps, path, { fileId: 'u' });
    expect(c.rejected).toEqual({ UNKNOWN_SUBSCRIBER: 1, RATING_PLAN_NOT_FOUND: 1 });
    const rows = await pool.query(
      `SELECT reason, raw FROM ${schema}.cdr_rejects WHERE file_id = 'u' ORDER BY line`,
    );
    expect(rows.rows[0]).toMatchObject({
      reason: 'UNKNOWN_SUBSCRIBER',
      raw: expect.stringContaining('449999999999'),
    });
  });
});
