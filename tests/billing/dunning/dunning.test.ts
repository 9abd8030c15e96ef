/**
 * Dunning on real Redis and PostgreSQL: overdue reminders once per offset however often the job
 * runs, one reminder (the latest) after days away, postpaid accounts suspended after N days overdue
 * and reactivated by the payment that leaves nothing overdue (at once, not at the job's next pass);
 * prepaid accounts and staff suspensions left alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../../src/balances/ledger.js';
import { dunningOnce } from '../../../src/billing/dunning/job.js';
import { ensureDunningSchema } from '../../../src/billing/dunning/schema.js';
import { saveSettings } from '../../../src/billing/dunning/settings.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { ensureMoneyInSchemas, harness, newAccount, openInvoice } from '../../payments/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const keys = ['acme', 'r3', 's', 'globex'].map((tenant) => ({
  key: `${tenant}-billing`,
  role: 'billing' as const,
  tenant,
}));
const h = await harness({ redis, prefix, payments: { pool, schema }, notifications: { pool, schema }, keys });
const NANO = 1_000_000_000n;

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureMoneyInSchemas(pool, schema, [() => ensureDunningSchema(pool, schema)]);
});

const run = (iso: string) => dunningOnce({ pool, schema, balances: h.balances, now: () => Date.parse(iso) });
const status = async (tenant: string, id: string) => (await h.balances.accountInfo(tenant, id))!.status;

async function events(tenant: string, accountId: string) {
  const r = await pool.query<{ type: string; payload: { reminderDays?: number; reason?: string } }>(
    `SELECT type, payload FROM ${schema}.events WHERE tenant = $1 AND account_id = $2 AND type <> 'payment.received'
      ORDER BY sequence`,
    [tenant, accountId],
  );
  return r.rows.map(
    (e) => `${e.type}${e.payload.reminderDays ?? ''}${e.payload.reason ? `:${e.payload.reason}` : ''}`,
  );
}

describe('overdue reminders', () => {
  it('go out once per offset, whatever how often the job runs', async () => {
    await newAccount(h.balances, 'r', 'bob');
    await openInvoice(pool, schema, 'r', 'bob', 1, 30n * NANO, '2026-12-01');
    for (const day of ['2026-11-30', '2026-12-01', '2026-12-02', '2026-12-02', '2026-12-05', '2026-12-08']) {
      await run(`${day}T12:00:00Z`);
      await run(`${day}T12:00:00Z`);
    }
    expect(await events('r', 'bob')).toEqual(['invoice.overdue1', 'invoice.overdue7']);
    await run('2026-12-20T12:00:00Z');
    await run('2026-12-21T12:00:00Z');
    expect(await events('r', 'bob')).toEqual(['invoice.overdue1', 'invoice.overdue7', 'invoice.overdue14']);
    expect(await status('r', 'bob')).toBe('active'); // no suspension unless the tenant sets one
  });

  it('after days away send only the latest offset reached, at the offsets the tenant set', async () => {
    await saveSettings(pool, schema, 'r2', { reminderDays: [3, 10, 30], suspendAfterDays: null });
    await newAccount(h.balances, 'r2', 'cy');
    await openInvoice(pool, schema, 'r2', 'cy', 1, 5n * NANO, '2026-12-01');
    await run('2026-12-12T12:00:00Z'); // 11 days: 3 and 10 reached, one reminder
    await run('2027-01-05T12:00:00Z');
    expect(await events('r2', 'cy')).toEqual(['invoice.overdue10', 'invoice.overdue30']);
  });

  it('stop once the invoice is paid', async () => {
    await newAccount(h.balances, 'r3', 'di');
    await openInvoice(pool, schema, 'r3', 'di', 1, 5n * NANO, '2026-12-01');
    await run('2026-12-02T12:00:00Z');
    await h.call('r3-billing', 'POST', '/v1/accounts/di/payments', {
      reference: 'p',
      amount: '5',
      currency: 'GBP',
    });
    await run('2026-12-09T12:00:00Z');
    expect(await events('r3', 'di')).toEqual(['invoice.overdue1', 'invoice.paid']);
  });
});

describe('suspension', () => {
  it('suspends a postpaid account N days overdue once, and reactivates it when a payment leaves nothing overdue', async () => {
    await saveSettings(pool, schema, 'acme', { reminderDays: [1], suspendAfterDays: 10 });
    await newAccount(h.balances, 'acme', 'bob');
    await openInvoice(pool, schema, 'acme', 'bob', 1, 30n * NANO, '2026-12-01');
    await openInvoice(pool, schema, 'acme', 'bob', 2, 20n * NANO, '2026-12-05');
    await run('2026-12-10T12:00:00Z'); // 9 days
    expect(await status('acme', 'bob')).toBe('active');
    for (let i = 0; i < 3; i++) await run('2026-12-11T12:00:00Z');
    expect(await status('acme', 'bob')).toBe('suspended');
    const pay = (reference: string, amount: string) =>
      h.call('acme-billing', 'POST', '/v1/accounts/bob/payments', { reference, amount, currency: 'GBP' });
    expect((await pay('part', '30')).statusCode).toBe(201); // the older invoice paid, the other still overdue
    expect(await status('acme', 'bob')).toBe('suspended');
    await run('2026-12-12T12:00:00Z');
    expect(await status('acme', 'bob')).toBe('suspended');
    await pay('rest', '20');
    // At once, from the payment itself: no job has run since.
    expect(await status('acme', 'bob')).toBe('active');
    for (let i = 0; i < 2; i++) await run('2026-12-13T12:00:00Z');
    expect(await status('acme', 'bob')).toBe('active');
    expect(await events('acme', 'bob')).toEqual([
      'invoice.overdue1',
      'invoice.overdue1',
      'account.suspended:invoice_overdue',
      'invoice.paid',
      'invoice.paid',
      'account.reactivated:nothing_overdue',
    ]);
  });

  it('leaves prepaid accounts and accounts suspended by staff alone', async () => {
    await saveSettings(pool, schema, 's', { reminderDays: [1], suspendAfterDays: 2 });
    await newAccount(h.balances, 's', 'pre', { type: 'prepaid' });
    await newAccount(h.balances, 's', 'staff');
    await h.balances.updateAccount('s', 'staff', { status: 'suspended' }, 'by-staff');
    for (const id of ['pre', 'staff']) await openInvoice(pool, schema, 's', id, 1, 5n * NANO, '2026-12-01');
    await run('2026-12-05T12:00:00Z');
    expect(await status('s', 'pre')).toBe('active');
    for (const id of ['pre', 'staff'])
      await h.call('s-billing', 'POST', `/v1/accounts/${id}/payments`, {
        reference: id,
        amount: '5',
        currency: 'GBP',
      });
    await run('2026-12-06T12:00:00Z');
    expect(await status('s', 'staff')).toBe('suspended'); // not the job's to lift
    expect(await events('s', 'staff')).toEqual(['invoice.overdue1', 'invoice.paid']);
  });
});

describe('settings route', () => {
  const url = '/v1/dunning-settings';
  it('are per tenant, defaults until set, and a bad body writes nothing', async () => {
    expect((await h.call('globex-billing', 'GET', url)).json()).toEqual({
      reminderDays: [1, 7, 14],
      suspendAfterDays: null,
    });
    const put = await h.call('globex-billing', 'PUT', url, { reminderDays: [14, 3], suspendAfterDays: 30 });
    expect(put.json()).toEqual({ reminderDays: [3, 14], suspendAfterDays: 30 });
    for (const body of [
      { reminderDays: [0] },
      { reminderDays: [3, 3] },
      { reminderDays: [1], suspendAfterDays: -1 },
      {},
    ]) {
      const res = await h.call('globex-billing', 'PUT', url, body);
      expect([res.statusCode, res.json().cause]).toEqual([400, 'INVALID_REQUEST']);
    }
    expect((await h.call('globex-billing', 'GET', url)).json()).toEqual({
      reminderDays: [3, 14],
      suspendAfterDays: 30,
    });
    expect((await h.call('s-billing', 'GET', url)).json()).toEqual({
      reminderDays: [1],
      suspendAfterDays: 2,
    });
  });
});
