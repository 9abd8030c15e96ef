/**
 * Payments through the HTTP API on the real Redis and PostgreSQL: allocation oldest first, partial,
 * the rest kept as unapplied credit, an invoice with nothing due `paid` with its event, the postpaid
 * invariant (main balance = −open due + unapplied credit), replay and 409, refunds, currency mismatch,
 * over-allocation, a crash between PostgreSQL and Redis repaired, tenancy and self-care, and every
 * bad request answering its cause with nothing changed in either store.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { repairPayments } from '../../src/payments/service.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import {
  ensureMoneyInSchemas,
  harness,
  invoiceState,
  mainNano,
  newAccount,
  openInvoice,
  snapshot,
  type Harness,
} from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const GBP = 1_000_000_000n;
let older = '';
let newer = '';

async function openDue(tenant: string, account: string): Promise<bigint> {
  const r = await pool.query<{ s: string }>(
    `SELECT coalesce(sum(amount_due_nano), 0)::text AS s FROM ${schema}.invoices
      WHERE tenant = $1 AND account_id = $2 AND status = 'finalized'`,
    [tenant, account],
  );
  return BigInt(r.rows[0]!.s);
}

async function unapplied(tenant: string, account: string): Promise<bigint> {
  const r = await pool.query<{ s: string }>(
    `SELECT coalesce(sum(unapplied_nano - refunded_nano), 0)::text AS s FROM ${schema}.payments
      WHERE tenant = $1 AND account_id = $2 AND kind = 'payment'`,
    [tenant, account],
  );
  return BigInt(r.rows[0]!.s);
}

/** The postpaid money model: what Redis holds is what PostgreSQL says is owed, less the credit. */
async function expectInvariant(tenant: string, account: string) {
  const main = BigInt(await mainNano(h.balances, tenant, account));
  expect(main).toBe(-(await openDue(tenant, account)) + (await unapplied(tenant, account)));
}

const events = async (type: string) =>
  (await pool.query(`SELECT * FROM ${schema}.events WHERE type = $1 ORDER BY sequence`, [type])).rows;

beforeAll(async () => {
  await ensureMoneyInSchemas(pool, schema);
  h = await harness({ redis, prefix, payments: { pool, schema } });
  await newAccount(h.balances, 'acme', 'alice');
  await newAccount(h.balances, 'acme', 'bob');
  await newAccount(h.balances, 'globex', 'gina', { currency: 'EUR' });
  older = await openInvoice(pool, schema, 'acme', 'alice', 1, 30n * GBP, '2026-10-15');
  newer = await openInvoice(pool, schema, 'acme', 'alice', 2, 40n * GBP, '2026-11-15');
  // The finalizations' postings: the postpaid balance carries what the invoices total.
  await h.balances.debit('acme', 'alice', {
    opId: 'posting',
    force: true,
    charge: { unit: 'generic', units: 0, amountNano: Number(70n * GBP) },
  });
});

describe('recording a payment', () => {
  it('pays the oldest invoice, part of the next, keeps the rest as unapplied credit', async () => {
    await expectInvariant('acme', 'alice');
    const body = { reference: 'crm-1', amount: '50.00', currency: 'GBP', method: 'card' };
    const res = await h.call('acme-billing', 'POST', '/v1/accounts/alice/payments', body);
    expect(res.statusCode).toBe(201);
    const p = res.json();
    expect(p).toMatchObject({ amount: '50.00', status: 'applied', unapplied: '0.00', kind: 'payment' });
    expect(p.allocations).toEqual([
      { invoiceId: older, amount: '30.00' },
      { invoiceId: newer, amount: '20.00' },
    ]);
    expect(await invoiceState(pool, schema, older)).toEqual({ status: 'paid', dueNano: 0n });
    expect(await invoiceState(pool, schema, newer)).toEqual({ status: 'finalized', dueNano: 20n * GBP });
    expect((await events('invoice.paid')).map((e) => e.payload.invoiceId)).toEqual([older]);
    expect(await events('payment.received')).toHaveLength(1);
    await expectInvariant('acme', 'alice');

    // The same reference and body: the first answer, no second credit.
    const again = await h.call('acme-billing', 'POST', '/v1/accounts/alice/payments', body);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(p);
    await expectInvariant('acme', 'alice');
    // Another body under the reference: 409, nothing changed.
    const before = await snapshot(pool, schema, ['payments', 'invoices', 'events'], redis, prefix);
    const other = await h.call('acme-billing', 'POST', '/v1/accounts/alice/payments', {
      ...body,
      amount: '51.00',
    });
    expect(other.statusCode).toBe(409);
    expect(other.json().cause).toBe('CONFLICT');
    expect(await snapshot(pool, schema, ['payments', 'invoices', 'events'], redis, prefix)).toEqual(before);
  });

  it('keeps what no invoice needs as unapplied credit, and refunds it (not more)', async () => {
    const res = await h.call('acme-billing', 'POST', '/v1/accounts/alice/payments', {
      reference: 'crm-2',
      amount: '25.50',
      currency: 'GBP',
    });
    expect(res.json()).toMatchObject({
      unapplied: '5.50',
      allocations: [{ invoiceId: newer, amount: '20.00' }],
    });
    expect((await invoiceState(pool, schema, newer)).status).toBe('paid');
    await expectInvariant('acme', 'alice');

    const id = res.json().id as string;
    const tooMuch = await h.call('acme-billing', 'POST', `/v1/payments/${id}/refunds`, {
      reference: 'r-0',
      amount: '5.51',
    });
    expect(tooMuch.statusCode).toBe(422);
    expect(tooMuch.json().cause).toBe('REFUND_EXCEEDS_PAYMENT');
    const refund = await h.call('acme-billing', 'POST', `/v1/payments/${id}/refunds`, {
      reference: 'r-1',
      amount: '5.00',
    });
    expect(refund.statusCode).toBe(201);
    expect(refund.json()).toMatchObject({ kind: 'refund', amount: '5.00', refundOf: id, status: 'applied' });
    expect(await events('payment.refunded')).toHaveLength(1);
    await expectInvariant('acme', 'alice');
    const replay = await h.call('acme-billing', 'POST', `/v1/payments/${id}/refunds`, {
      reference: 'r-1',
      amount: '5.00',
    });
    expect(replay.json()).toEqual(refund.json());
    await expectInvariant('acme', 'alice');
  });

  it('allocates as told', async () => {
    const a = await openInvoice(pool, schema, 'acme', 'bob', 1, 10n * GBP, '2026-10-01');
    const b = await openInvoice(pool, schema, 'acme', 'bob', 2, 10n * GBP, '2026-11-01');
    const res = await h.call('acme-billing', 'POST', '/v1/accounts/bob/payments', {
      reference: 'bob-1',
      amount: '12.00',
      currency: 'GBP',
      allocations: [{ invoiceId: b, amount: '10.00' }],
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ unapplied: '2.00', allocations: [{ invoiceId: b, amount: '10.00' }] });
    expect((await invoiceState(pool, schema, a)).status).toBe('finalized');
    expect((await invoiceState(pool, schema, b)).status).toBe('paid');
  });

  it('finishes a payment a crash left between PostgreSQL and Redis, once', async () => {
    const inv = await openInvoice(pool, schema, 'acme', 'bob', 3, 7n * GBP, '2026-12-01');
    const before = await mainNano(h.balances, 'acme', 'bob');
    // The first transaction committed, then the process died before the credit.
    await pool.query(
      `INSERT INTO ${schema}.payments (id, tenant, account_id, kind, amount_nano, currency, method, reference,
         request_hash, op_id, received_at, status) VALUES (gen_random_uuid(), 'acme', 'bob', 'payment', $1, 'GBP',
         'bank', 'crashed', 'x', 'payment:crashed', now(), 'pending')`,
      [(7n * GBP).toString()],
    );
    expect(await repairPayments({ pool, schema, balances: h.balances })).toBe(1);
    expect(await repairPayments({ pool, schema, balances: h.balances })).toBe(0);
    expect(await mainNano(h.balances, 'acme', 'bob')).toBe(before + Number(7n * GBP));
    expect((await invoiceState(pool, schema, inv)).status).toBe('finalized'); // the crashed row allocated nothing
  });
});

describe('refusals change nothing', () => {
  const bad: [string, string, object, number, string][] = [
    [
      'currency mismatch',
      '/v1/accounts/alice/payments',
      { reference: 'b1', amount: '1.00', currency: 'EUR' },
      422,
      'CURRENCY_MISMATCH',
    ],
    [
      'negative amount',
      '/v1/accounts/alice/payments',
      { reference: 'b2', amount: '-1.00', currency: 'GBP' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'zero amount',
      '/v1/accounts/alice/payments',
      { reference: 'b2', amount: '0', currency: 'GBP' },
      400,
      'INVALID_REQUEST',
    ],
    [
      '10 decimals',
      '/v1/accounts/alice/payments',
      { reference: 'b3', amount: '1.0000000001', currency: 'GBP' },
      400,
      'INVALID_REQUEST',
    ],
    [
      '3 decimals in GBP',
      '/v1/accounts/alice/payments',
      { reference: 'b3', amount: '1.001', currency: 'GBP' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'unknown currency',
      '/v1/accounts/alice/payments',
      { reference: 'b4', amount: '1.00', currency: 'XXY' },
      400,
      'INVALID_REQUEST',
    ],
    [
      'unknown field',
      '/v1/accounts/alice/payments',
      { reference: 'b5', amount: '1.00', currency: 'GBP', x: 1 },
      400,
      'INVALID_REQUEST',
    ],
    [
      'unknown account',
      '/v1/accounts/nobody/payments',
      { reference: 'b6', amount: '1.00', currency: 'GBP' },
      404,
      'ACCOUNT_NOT_FOUND',
    ],
    [
      'another tenant',
      '/v1/accounts/gina/payments',
      { reference: 'b7', amount: '1.00', currency: 'EUR' },
      404,
      'ACCOUNT_NOT_FOUND',
    ],
  ];
  it.each(bad)('%s', async (_name, url, body, status, cause) => {
    const before = await snapshot(
      pool,
      schema,
      ['payments', 'payment_allocations', 'invoices', 'events'],
      redis,
      prefix,
    );
    const res = await h.call('acme-billing', 'POST', url, body);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().cause).toBe(cause);
    expect(
      await snapshot(pool, schema, ['payments', 'payment_allocations', 'invoices', 'events'], redis, prefix),
    ).toEqual(before);
  });

  it('an over-allocation: past the invoice, past the payment, a paid invoice', async () => {
    const inv = await openInvoice(pool, schema, 'acme', 'bob', 4, 5n * GBP, '2026-12-05');
    for (const allocations of [
      [{ invoiceId: inv, amount: '6.00' }],
      [{ invoiceId: inv, amount: '5.00' }],
      [{ invoiceId: older, amount: '1.00' }],
    ]) {
      const before = await snapshot(
        pool,
        schema,
        ['payments', 'payment_allocations', 'invoices', 'events'],
        redis,
        prefix,
      );
      const amount = allocations[0]!.amount === '5.00' ? '4.00' : '10.00';
      const res = await h.call('acme-billing', 'POST', '/v1/accounts/bob/payments', {
        reference: 'over',
        amount,
        currency: 'GBP',
        allocations,
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().cause).toBe('ALLOCATION_EXCEEDS_DUE');
      expect(res.json().invalidParams).toHaveLength(1);
      expect(
        await snapshot(
          pool,
          schema,
          ['payments', 'payment_allocations', 'invoices', 'events'],
          redis,
          prefix,
        ),
      ).toEqual(before);
    }
  });
});

describe('who reads payments', () => {
  it('a customer reads its own, never another account or tenant', async () => {
    const own = await h.call('acme-alice', 'GET', '/v1/accounts/alice/payments');
    expect(own.statusCode).toBe(200);
    expect(own.json().payments.length).toBe(3);
    const id = own.json().payments[0].id as string;
    expect((await h.call('acme-alice', 'GET', `/v1/payments/${id}`)).statusCode).toBe(200);
    expect((await h.call('acme-alice', 'GET', '/v1/accounts/bob/payments')).statusCode).toBe(403);
    const bobs = (await h.call('acme-billing', 'GET', '/v1/accounts/bob/payments')).json().payments;
    expect((await h.call('acme-alice', 'GET', `/v1/payments/${bobs[0].id}`)).statusCode).toBe(404);
    expect((await h.call('globex-billing', 'GET', `/v1/payments/${id}`)).statusCode).toBe(404);
    expect((await h.call('globex-billing', 'GET', '/v1/accounts/alice/payments')).statusCode).toBe(404);
    expect(
      (
        await h.call('acme-alice', 'POST', '/v1/accounts/alice/payments', {
          reference: 'z',
          amount: '1',
          currency: 'GBP',
        })
      ).statusCode,
    ).toBe(403);
    expect((await h.call('acme-network', 'GET', '/v1/accounts/alice/payments')).statusCode).toBe(403);
  });
});
