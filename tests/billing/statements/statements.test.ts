/**
 * Prepaid statements from the ledger on real Redis and PostgreSQL: money moved by top-ups, fees,
 * one-off debits and payments lands on the statement of the period it moved in, each statement opens
 * with the previous one's closing balance, a movement drained after its period's statement was
 * written shows on the next one (never lost, never twice), the last closing balance is the Redis
 * balance, producing again writes nothing; the routes: billing staff and the customer read it, another
 * customer or tenant gets 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../../src/balances/store.js';
import { produceStatements } from '../../../src/billing/statements/produce.js';
import { statementRoutes } from '../../../src/billing/statements/routes.js';
import { scheduledStatements } from '../../../src/billing/statements/scheduler.js';
import { ensureEngineSchema } from '../../../src/storage/schema.js';
import { drainOutboxes } from '../../../src/storage/outbox.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { testApp } from '../../support/app.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let clock = Date.parse('2026-09-20T00:00:00Z');
const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const deps = { pool, schema };
const GBP = 1_000_000_000;
const at = (iso: string) => (clock = Date.parse(iso));
const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix, full: true });

async function statements() {
  const r = await pool.query(
    `SELECT id, period_start, opening_nano::text AS o, credits_nano::text AS c, debits_nano::text AS d,
            closing_nano::text AS cl, body FROM ${schema}.ledger_statements WHERE account_id = 'pp' ORDER BY period_start`,
  );
  return r.rows;
}

beforeAll(async () => {
  await ensureEngineSchema(pool, schema);
  await balances.createAccount(
    { tenant: 'acme', id: 'pp', type: 'prepaid', currency: 'GBP', subject: 'pp', subscriptions: [] },
    'c-pp',
  );
  await balances.addBalance('acme', 'pp', { id: 'main', unit: 'money', value: 10 * GBP }, 'main-pp');
  await pool.query(
    `INSERT INTO ${schema}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, grace_hours, created_at) VALUES ('acme', 'pp', 'prepaid', 'GBP', 'UTC', 1, 'statement', 0, '2026-10-01T00:00:00Z')`,
  );
  at('2026-10-05T10:00:00Z');
  await balances.credit('acme', 'pp', {
    opId: 'credit:t1',
    balanceId: 'main',
    amount: 5 * GBP,
    kind: 'topup',
  });
  at('2026-10-10T10:00:00Z');
  await balances.debit('acme', 'pp', {
    opId: 'fee:a1:2026-10-10',
    charge: { unit: 'generic', units: 0, amountNano: 3 * GBP },
  });
  at('2026-10-12T10:00:00Z');
  await balances.debit('acme', 'pp', {
    opId: 'debit:r1',
    charge: { unit: 'generic', units: 0, amountNano: 1_250_000_000 },
  });
  at('2026-11-03T10:00:00Z');
  await balances.credit('acme', 'pp', {
    opId: 'credit:t2',
    balanceId: 'main',
    amount: 2 * GBP,
    kind: 'topup',
  });
  await drain();
});

describe('prepaid statements', () => {
  it('puts each movement on its period, opening with the last closing (exact)', async () => {
    const s = await produceStatements(deps, 'acme', Date.parse('2026-12-02T00:00:00Z'));
    expect(s).toEqual({ accounts: 1, written: 2 });
    const [oct, nov] = await statements();
    expect([oct.o, oct.c, oct.d, oct.cl]).toEqual([
      `${10 * GBP}`,
      `${5 * GBP}`,
      '-4250000000',
      '10750000000',
    ]);
    expect(oct.body).toMatchObject({
      opening_balance: { amount: '10.00' },
      credits: { topups: { amount: '5.00' } },
      debits: { fees: { amount: '-3.00' }, one_off: { amount: '-1.25', nano: '-1250000000' } },
      closing_balance: { amount: '10.75' },
    });
    expect([nov.o, nov.cl]).toEqual([oct.cl, '12750000000']);
    expect(await produceStatements(deps, 'acme', Date.parse('2026-12-02T00:00:00Z'))).toEqual({
      accounts: 1,
      written: 0,
    });
  });

  it('shows a movement drained after its statement on the next one, and ends on the Redis balance', async () => {
    at('2026-11-20T10:00:00Z');
    await balances.credit('acme', 'pp', {
      opId: 'credit:late',
      balanceId: 'main',
      amount: 1 * GBP,
      kind: 'topup',
    });
    await produceStatements(deps, 'acme', Date.parse('2026-12-02T00:00:00Z')); // nothing new is due
    await drain();
    expect((await produceStatements(deps, 'acme', Date.parse('2027-01-02T00:00:00Z'))).written).toBe(1);
    const all = await statements();
    const dec = all[2];
    expect(dec.o).toBe(all[1].cl);
    expect(dec.body.credits).toEqual({ adjustments: { amount: '1.00', nano: `${GBP}` } });
    const view = await balances.getAccount('acme', 'pp');
    expect(dec.cl).toBe(String(view!.balances.find((b) => b.id === 'main')!.value));
    for (let i = 1; i < all.length; i++) expect(all[i].o).toBe(all[i - 1].cl);
    // The scheduler's beat finds the tenant and writes nothing twice.
    expect(await scheduledStatements(deps, Date.parse('2027-01-02T00:00:00Z'))).toEqual([
      { tenant: 'acme', accounts: 1, written: 0 },
    ]);
  });
});

describe('statement routes', () => {
  const keys = [
    { key: 'b', role: 'billing' as const, tenant: 'acme' },
    { key: 'b2', role: 'billing' as const, tenant: 'other' },
    { key: 'me', role: 'selfcare' as const, tenant: 'acme', accountId: 'pp' },
    { key: 'you', role: 'selfcare' as const, tenant: 'acme', accountId: 'someone' },
  ];
  let app: Awaited<ReturnType<typeof testApp>>['app'];
  beforeAll(async () => {
    ({ app } = await testApp({ redis, prefix, keys }));
    statementRoutes(app, { pool, schema, balances, now: () => Date.parse('2027-01-15T00:00:00Z') });
  });
  afterAll(() => app.close());
  const get = (url: string, key: string) => app.inject({ url, headers: { authorization: `Bearer ${key}` } });

  it('lists and shows statements to billing staff and to the customer, 404 to others', async () => {
    const list = await get('/v1/accounts/pp/statements', 'b');
    expect(list.statusCode).toBe(200);
    const items = list.json().items;
    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({ account_id: 'pp', closing_balance: { amount: '10.75' } });
    expect((await get('/v1/accounts/pp/statements', 'me')).statusCode).toBe(200);
    expect((await get(`/v1/statements/${items[0].id}`, 'me')).json().id).toBe(items[0].id);
    expect((await get(`/v1/statements/${items[0].id}`, 'you')).statusCode).toBe(404);
    expect((await get(`/v1/statements/${items[0].id}`, 'b2')).statusCode).toBe(404);
    expect((await get('/v1/accounts/pp/statements', 'b2')).json().cause).toBe('ACCOUNT_NOT_FOUND');
    expect((await get('/v1/accounts/pp/statements', 'you')).statusCode).toBe(403);
    expect((await get('/v1/statements/not-a-uuid', 'b')).json().cause).toBe('INVALID_REQUEST');
    const preview = (await get('/v1/accounts/pp/statements/preview', 'me')).json();
    expect(preview).toMatchObject({
      preview: true,
      start_date: '2027-01-01T00:00:00.000Z',
      end_date: '2027-01-15T00:00:00.000Z',
      opening_balance: items[2].closing_balance,
      closing_balance: items[2].closing_balance,
    });
    expect((await get('/v1/accounts/pp/statements/preview', 'you')).statusCode).toBe(403);
    expect((await get('/v1/accounts/pp/statements?limit=0', 'b')).statusCode).toBe(400);
  });
});
