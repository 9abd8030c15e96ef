/**
 * A CDR is known by its tenant and its id: switches of different operators number their records
 * alike, so the same ids in two tenants are two CDRs, each charged and stored once, and neither a
 * duplicate nor a conflict of the other. Within a tenant an id still counts once, and rerating one
 * tenant never touches another's rows with the same ids.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { importCdrFile, type ImportDeps } from '../../src/cdr/pipeline.js';
import { createRatingPool, type RatingPool } from '../../src/cdr/pool.js';
import { rerateCdrs } from '../../src/cdr/rerate.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const START = 100_000_000_000;
const TENANTS = ['acme', 'globex'] as const;
/** The same account ids and msisdns in both tenants. */
const ACCOUNTS = Array.from({ length: 10 }, (_, i) => ({
  id: `a${i + 1}`,
  msisdn: `4477009${String(i + 1).padStart(5, '0')}`,
}));
const HEADER = 'cdr_id,subscriber,category,service,destination,start_time,usage';
let dir: string;
let rating: RatingPool;
let deps: ImportDeps;

/** 60 CDRs numbered as a switch numbers them (n-1 …), calls, SMS and data, on 2026-11-20. */
function lines(): string[] {
  return Array.from({ length: 60 }, (_, i) => {
    const a = ACCOUNTS[i % ACCOUNTS.length]!;
    const at = `2026-11-20T10:${String(i).padStart(2, '0')}:00Z`;
    if (i % 3 === 0) return `n-${i + 1},${a.msisdn},call,voice,+447911123456,${at},${30 + i}`;
    if (i % 3 === 1) return `n-${i + 1},${a.msisdn},sms,sms,+447911123456,${at},1`;
    return `n-${i + 1},${a.msisdn},data,data,,${at},${1_000_000 * (i + 1)}`;
  });
}

async function fileOf(name: string, body: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, [HEADER, ...body].join('\n') + '\n');
  return path;
}

/** As an upload: the file is the tenant's, its lines name no tenant. */
const importAs = (tenant: string, path: string, fileId: string) =>
  importCdrFile(deps, path, { fileId, tenant, enforceTenant: true });

async function moneyLeft(tenant: string): Promise<number> {
  let total = 0;
  for (const a of ACCOUNTS) total += (await balances.getAccount(tenant, a.id))!.balances[0]!.value;
  return total;
}

/** Each stored row of a tenant, by CDR id, as text (every column). */
async function rowsOf(tenant: string): Promise<Map<string, { text: string; cost: number; charged: number }>> {
  const { rows } = await pool.query(
    // What a CDR took: its charged_nano (never changed) and its rerates' differences (usage_adjustments).
    `SELECT cdr_id, r::text AS text, cost_nano::text AS cost,
            (charged_nano + coalesce((SELECT sum(a.delta_charged_nano) FROM ${schema}.usage_adjustments a
              WHERE a.tenant = r.tenant AND a.source = 'cdr' AND a.source_id = r.cdr_id), 0))::text AS charged
       FROM ${schema}.rated_cdrs r WHERE tenant = $1`,
    [tenant],
  );
  return new Map(
    rows.map((r) => [r.cdr_id, { text: r.text, cost: Number(r.cost), charged: Number(r.charged) }]),
  );
}

async function setMobileRate(rate: string): Promise<void> {
  const doc = JSON.parse(await readFile(join(dir, 'tariff.json'), 'utf8'));
  doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = rate;
  await writeFile(join(dir, 'tariff.json'), JSON.stringify(doc));
  rating.reload();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cdr-tenancy-'));
  await cp('tariffs/sample', dir, { recursive: true });
  // globex prices as acme does (profiles of its own): the same file costs both the same.
  const doc = JSON.parse(await readFile(join(dir, 'tariff.json'), 'utf8'));
  doc.ratingProfiles.push(
    ...doc.ratingProfiles
      .filter((p: { tenant: string }) => p.tenant === 'acme')
      .map((p: object) => ({ ...p, tenant: 'globex' })),
  );
  await writeFile(join(dir, 'tariff.json'), JSON.stringify(doc));
  rating = createRatingPool({ tariffDir: dir, threads: 1 });
  deps = { balances, pool, schema, rating };
  await ensureCdrSchema(pool, schema);
  for (const tenant of TENANTS)
    for (const a of ACCOUNTS) {
      await balances.createAccount(
        {
          tenant,
          id: a.id,
          type: 'prepaid',
          currency: 'GBP',
          subject: a.id,
          subscriptions: [{ type: 'msisdn', value: a.msisdn }],
        },
        `c-${a.id}`,
      );
      await balances.addBalance(tenant, a.id, { id: 'main', unit: 'money', value: START }, `b-${a.id}`);
    }
});
afterAll(() => rating.close());

describe('CDR ids are per tenant', () => {
  it('the same file in two tenants charges and stores each tenant once, with no duplicate or conflict', async () => {
    const file = await fileOf('switch.csv', lines());
    const acme = await importAs('acme', file, 'job-acme-1');
    const globex = await importAs('globex', file, 'job-globex-1');
    for (const c of [acme, globex])
      expect(c).toMatchObject({ read: 60, stored: 60, duplicates: 0, rejected: {} });
    expect(globex.chargedNano).toBe(acme.chargedNano);
    expect(acme.chargedNano).toBeGreaterThan(0);
    for (const [tenant, c] of [
      ['acme', acme],
      ['globex', globex],
    ] as const) {
      expect(ACCOUNTS.length * START - (await moneyLeft(tenant))).toBe(c.chargedNano);
      const rows = await rowsOf(tenant);
      expect(rows.size).toBe(60);
      expect([...rows.values()].reduce((s, r) => s + r.charged, 0)).toBe(c.chargedNano);
    }
    const claims = await pool.query(
      `SELECT tenant, count(*)::int AS n FROM ${schema}.cdr_ids GROUP BY tenant ORDER BY tenant`,
    );
    expect(claims.rows).toEqual([
      { tenant: 'acme', n: 60 },
      { tenant: 'globex', n: 60 },
    ]);
    const rejects = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_rejects`);
    expect(rejects.rows[0].n).toBe(0);
  });

  it('within a tenant a repeat is still a duplicate, and other content under a used id a conflict', async () => {
    const before = { acme: await moneyLeft('acme'), globex: await moneyLeft('globex') };
    const again = await importAs('acme', await fileOf('switch-again.csv', lines()), 'job-acme-2');
    expect(again).toMatchObject({ read: 60, stored: 0, duplicates: 60, chargedNano: 0, rejected: {} });
    // n-1 written again with another usage: a conflict in globex; n-100 is new to globex only.
    const changed = lines()[0]!.replace(/,30$/, ',31');
    const fresh = `n-100,${ACCOUNTS[0]!.msisdn},sms,sms,+447911123456,2026-11-20T11:00:00Z,1`;
    const g = await importAs('globex', await fileOf('globex-more.csv', [changed, fresh]), 'job-globex-2');
    expect(g).toMatchObject({ read: 2, stored: 1, duplicates: 0, rejected: { DUPLICATE_ID_CONFLICT: 1 } });
    expect(before.globex - (await moneyLeft('globex'))).toBe(g.chargedNano);
    expect(await moneyLeft('acme')).toBe(before.acme);
    const conflict = await pool.query(`SELECT file_id, line, reason FROM ${schema}.cdr_rejects`);
    expect(conflict.rows).toEqual([{ file_id: 'job-globex-2', line: '2', reason: 'DUPLICATE_ID_CONFLICT' }]);
    // The id globex took is still new to acme.
    const a = await importAs('acme', await fileOf('acme-more.csv', [fresh]), 'job-acme-3');
    expect(a).toMatchObject({ stored: 1, duplicates: 0, rejected: {} });
  });

  it('a run stopped part way in one tenant never makes another tenant skip lines of the same file', async () => {
    // As `cdr import FILE --tenant T`: the file is known by its path, in both tenants.
    const path = await fileOf(
      'stopped.csv',
      lines().map((l) => `s${l}`),
    ); // ids sn-1 …
    const stop = new AbortController();
    const first = await importCdrFile(deps, path, {
      tenant: 'acme',
      enforceTenant: true,
      chunkBytes: 1024,
      signal: stop.signal,
      onProgress: () => stop.abort(),
    });
    expect(first.stoppedAfterLine).toBeGreaterThan(1);
    expect(first.stored).toBeLessThan(60);
    const globex = await importCdrFile(deps, path, {
      tenant: 'globex',
      enforceTenant: true,
      chunkBytes: 1024,
    });
    expect(globex).toMatchObject({ resumedAfterLine: 0, stored: 60, duplicates: 0, rejected: {} });
    const rest = await importCdrFile(deps, path, { tenant: 'acme', enforceTenant: true, chunkBytes: 1024 });
    expect(rest.resumedAfterLine).toBe(first.stoppedAfterLine);
    expect(first.stored + rest.stored).toBe(60);
    expect(first.chargedNano + rest.chargedNano).toBe(globex.chargedNano);
  });

  it('rerating one tenant never touches the rows of another with the same ids', async () => {
    const acmeRows = await rowsOf('acme');
    const acmeMoney = await moneyLeft('acme');
    const globexRows = await rowsOf('globex');
    const globexMoney = await moneyLeft('globex');
    await setMobileRate('0.30');
    const range = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };
    const c = await rerateCdrs({ pool, schema, rating, balances }, { ...range, tenant: 'globex' });
    expect(c.changed).toBeGreaterThan(0);
    expect(c.failed).toEqual({});
    const after = await rowsOf('acme');
    for (const [id, r] of acmeRows) expect(after.get(id)!.text).toBe(r.text);
    expect(await moneyLeft('acme')).toBe(acmeMoney);
    const g = await rowsOf('globex');
    let costDiff = 0;
    for (const [id, r] of g) {
      expect(r.charged).toBe(r.cost); // money paid them all: the new price, charged once
      costDiff += r.cost - globexRows.get(id)!.cost;
    }
    expect(costDiff).toBe(c.deltaNano);
    expect(globexMoney - (await moneyLeft('globex'))).toBe(c.deltaNano);
  });

  it('rerating both tenants at once applies and refuses each row under its own tenant', async () => {
    // globex's a1 has no money left: its dearer CDRs keep their price; acme's a1, same ids, move on.
    const a1 = (await balances.getAccount('globex', 'a1'))!.balances[0]!;
    await balances.debit('globex', 'a1', {
      opId: 'drain-a1',
      charge: { unit: 'generic', units: 0, amountNano: a1.value },
    });
    const before = { acme: await rowsOf('acme'), globex: await rowsOf('globex') };
    const money = { acme: await moneyLeft('acme'), globex: await moneyLeft('globex') };
    await setMobileRate('0.45');
    const range = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };
    const c = await rerateCdrs({ pool, schema, rating, balances }, range);
    expect(Object.keys(c.failed)).toEqual(['INSUFFICIENT']);
    expect(c.failed.INSUFFICIENT).toBeGreaterThan(0);
    let total = 0;
    for (const tenant of TENANTS) {
      const after = await rowsOf(tenant);
      let diff = 0;
      for (const [id, r] of after) {
        expect(r.charged).toBe(r.cost);
        diff += r.cost - before[tenant].get(id)!.cost;
      }
      expect(money[tenant] - (await moneyLeft(tenant))).toBe(diff);
      total += diff;
    }
    expect(total).toBe(c.deltaNano);
    // acme's a1 was rerated, globex's a1 (same CDR ids) kept its prices.
    const a1Repriced = async (tenant: 'acme' | 'globex') => {
      const { rows } = await pool.query(
        `SELECT cdr_id, cost_nano::text AS cost FROM ${schema}.rated_cdrs WHERE tenant = $1 AND account_id = 'a1'`,
        [tenant],
      );
      return rows.filter((r) => Number(r.cost) !== before[tenant].get(r.cdr_id)!.cost).length;
    };
    expect(await a1Repriced('acme')).toBeGreaterThan(0);
    expect(await a1Repriced('globex')).toBe(0);
  });
});
