/**
 * The billing staff's commands as a process (src/cli/billing-command-table.ts): `plans load` of the
 * sample catalog (twice: nothing new; a bad file: refused, nothing written), `invoices show` by
 * number, `invoices export` as CSV and JSON, `invoices render-pdf` (a PDF file; a draft or an unknown
 * number exit 1), `billing statements` and `billing reconcile` (exit 0 clean, 4 with a difference).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBilling } from '../../src/billing/run/run.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { redisEnv, testRedis } from '../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps } from '../billing/run/support.js';
import { ensureEngineSchema } from '../../src/storage/schema.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      ...redisEnv(),
      DATABASE_URL: databaseUrl(),
      KEY_PREFIX: prefix,
      DB_SCHEMA: schema,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

const count = async (table: string) =>
  (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0].n as number;

beforeAll(async () => {
  await ensureAll(pool, schema);
  await ensureEngineSchema(pool, schema);
});

describe('cli plans load', () => {
  it('loads the sample catalog once: a second load changes nothing, a bad file writes nothing', async () => {
    const first = await cli('plans', 'load', 'tariffs/billing/catalog.json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toEqual({
      status: 'done',
      tenant: 'acme',
      taxes: 2,
      taxProfiles: 2,
      coupons: 2,
      plansCreated: 2,
      plansUnchanged: 0,
    });
    const again = await cli('plans', 'load', 'tariffs/billing/catalog.json');
    expect(JSON.parse(again.out)).toMatchObject({ plansCreated: 0, plansUnchanged: 2 });
    expect(await count('plans')).toBe(2);
    expect(await count('taxes')).toBe(2);

    const bad = join(tmpdir(), `bad-catalog-${process.pid}.json`);
    writeFileSync(bad, JSON.stringify({ plans: [{ code: 'x', period: 'year', prices: { GBP: '1.001' } }] }));
    const refused = await cli('plans', 'load', bad);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ status: 'refused', code: 'INVALID_PLAN' });
    expect(await count('plans')).toBe(2);
    writeFileSync(bad, '{"plan": []}');
    expect((await cli('plans', 'load', bad)).err).toMatch(/unknown key\(s\) plan/);
  });
});

describe('cli invoices, statements and reconcile', () => {
  beforeAll(async () => {
    await addVat(pool, schema);
    await addAccount(deps.balances, pool, schema, {
      id: 'c1',
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: 'uk',
    });
    await applyFee(deps.balances, pool, schema, 'c1', 'fee:c1', 15_000_000_000);
    await addAccount(
      deps.balances,
      pool,
      schema,
      { id: 'p1', type: 'prepaid', createdAt: '2026-11-01T00:00:00Z' },
      7_000_000_000,
    );
    const s = await runBilling(deps, { tenant: 'acme', asOf: new Date('2026-12-01T00:00:00Z') });
    expect(s.counters.finalized).toBe(1);
  });

  it('shows an invoice by its number, exports the month, renders its PDF', async () => {
    const show = await cli('invoices', 'show', 'INV2026-000001');
    expect(show.code).toBe(0);
    const inv = JSON.parse(show.out);
    expect(inv).toMatchObject({ number: 'INV2026-000001', accountId: 'c1' });
    expect((await cli('invoices', 'show', inv.id)).code).toBe(0);
    expect((await cli('invoices', 'show', 'INV2026-999999')).code).toBe(1);

    const csv = await cli('invoices', 'export', '--from', '2026-12-01', '--to', '2026-12-31');
    expect(csv.code).toBe(0);
    const rows = csv.out.trim().split('\r\n');
    expect(rows[0]).toMatch(/^[a-z_]+(,[a-z_]+)+$/);
    expect(rows[1]).toContain('INV2026-000001');
    const json = await cli(
      'invoices',
      'export',
      '--from',
      '2026-12-01',
      '--to',
      '2026-12-31',
      '--format',
      'json',
    );
    expect(JSON.parse(json.out.trim().split('\n')[0]!)).toMatchObject({ number: 'INV2026-000001' });
    expect((await cli('invoices', 'export', '--from', '2026-12-01')).code).toBe(2);

    const out = join(tmpdir(), `inv-${process.pid}.pdf`);
    const pdf = await cli('invoices', 'render-pdf', 'INV2026-000001', '--out', out);
    expect(pdf.code).toBe(0);
    expect(readFileSync(out).subarray(0, 5).toString()).toBe('%PDF-');
    expect(JSON.parse(pdf.out)).toMatchObject({ id: inv.id, hash: inv.hash });
  });

  it('writes statements once and reconciles (exit 4 on a difference)', async () => {
    const st = await cli('billing', 'statements', '--at', '2026-12-02T00:00:00Z', '--progress-seconds', '0');
    expect(st.code).toBe(0);
    expect(JSON.parse(st.out)).toMatchObject({ accounts: 1, written: 1 });
    expect(
      JSON.parse((await cli('billing', 'statements', '--at', '2026-12-02T00:00:00Z')).out),
    ).toMatchObject({ written: 0 });

    const preview = await cli(
      'billing',
      'statements',
      '--at',
      '2027-01-20T00:00:00Z',
      '--preview',
      '--accounts',
      'p1',
    );
    expect(JSON.parse(preview.out)).toMatchObject({
      preview: true,
      start_date: '2026-12-01T00:00:00.000Z',
      end_date: '2027-01-20T00:00:00.000Z',
      closing_balance: { amount: '7.00' }, // the balance was made (ledger clock) on 2 January
    });
    expect((await cli('billing', 'statements', '--at', '2026-12-20T00:00:00Z', '--preview')).code).toBe(2);

    const clean = await cli('billing', 'reconcile', '--progress-seconds', '0');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.out)).toMatchObject({ accounts: 2, ok: 2, differing: 0 });
    await pool.query(`UPDATE ${schema}.charges SET amount_nano = amount_nano + 1 WHERE op_id = 'fee:c1'`);
    const off = await cli('billing', 'reconcile', '--account', 'c1');
    expect(off.code).toBe(4);
    expect(JSON.parse(off.out).reports[0].differences[0]).toMatchObject({
      differenceNano: '1',
      reason: 'BILLABLE_ROWS_DIFFER_FROM_BALANCE',
    });
    expect((await cli('billing', 'reconcile', '--account', 'nobody')).code).toBe(1);
    const parked = await cli('billing', 'reconcile', '--park');
    expect(JSON.parse(parked.out)).toMatchObject({ differing: 1, parked: ['c1'] });
    const row = await pool.query(
      `SELECT parked_code FROM ${schema}.billing_accounts WHERE account_id = 'c1'`,
    );
    expect(row.rows[0].parked_code).toBe('RECONCILIATION_MISMATCH');
  });
});
