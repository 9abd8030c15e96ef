/**
 * Double sends: a client that sends the same write (same body, same reference) two or three times at
 * once gets one effect — money moved once, one row — and every answer is the first answer or its
 * replay (2xx); never a 500, never a 409 for the identical body. One route per test, each fired three
 * times concurrently on the real Redis and PostgreSQL.
 */
import type { Response } from 'light-my-request';
import { beforeAll, describe, expect, it } from 'vitest';
import { finalizeInvoices } from '../../src/billing/documents/finalize.js';
import { documentHooks } from '../../src/billing/run/posting.js';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { ensurePlansSchema } from '../../src/billing/plans/schema.js';
import { ensureRunSchema } from '../../src/billing/run/schema.js';
import { ensureVouchersSchema } from '../../src/vouchers/schema.js';
import { addDraft, draftOf } from '../billing/documents/drafts.js';
import {
  ensureMoneyInSchemas,
  harness,
  mainNano,
  newAccount,
  openInvoice,
  type Harness,
} from '../payments/support.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { addAccount, ensureAll, runDeps } from '../billing/run/support.js';
import { IN_A_YEAR, TEST_KEYS, batchWithPins } from '../vouchers/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const GBP = 1_000_000_000n;
const NOW = Date.now();
const run = runDeps(pool, schema, redis, prefix, NOW);

beforeAll(async () => {
  await ensureMoneyInSchemas(pool, schema, [
    () => ensureAll(pool, schema),
    () => ensureRunSchema(pool, schema),
    () => ensurePlansSchema(pool, schema),
    () => ensureVouchersSchema(pool, schema),
    () => ensureLedgerSchema(pool, schema),
    () => ensureNotificationsSchema(pool, schema),
  ]);
  h = await harness({
    redis,
    prefix,
    payments: { pool, schema },
    vouchers: { pool, schema, plans: true, keys: TEST_KEYS },
    plans: { pool, schema },
    documents: { pool, schema, hooks: documentHooks(run.balances, schema), now: () => NOW },
    billingRuns: run,
    notifications: { pool, schema },
  });
});

/** The same request three times at once. */
async function thrice(key: string, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: object) {
  return Promise.all([0, 1, 2].map(() => h.call(key, method, url, body)));
}

/** Every answer 2xx, and every answer the first one (a replay may say so in `replayed`). */
function expectOneAnswer(answers: Response[], asOfNow: string[] = []) {
  const statuses = answers.map((a) => a.statusCode);
  for (const a of answers) expect(a.statusCode, `${statuses.join(',')}: ${a.body}`).toBeLessThan(300);
  const bodies = answers.map((a) => {
    const b = a.json<Record<string, unknown>>();
    for (const k of ['replayed', ...asOfNow]) delete b[k];
    return b;
  });
  for (const b of bodies.slice(1)) expect(b).toEqual(bodies[0]);
}

/**
 * A money voucher of `gbp` pounds, redeemed three times at once with `key` at `url` (into `account`):
 * one answer, and the account credited once.
 */
async function voucherRedeemedThrice(o: {
  key: string;
  url: string;
  account: string;
  gbp: bigint;
  batch: string;
  reference?: string;
}) {
  await newAccount(h.balances, 'acme', o.account, { type: 'prepaid' });
  const { pins } = await batchWithPins(h, 'acme', {
    reference: o.batch,
    count: 1,
    value: { amount: `${o.gbp}.00`, currency: 'GBP' },
  });
  const answers = await thrice(o.key, 'POST', o.url, {
    pin: pins[0]![1],
    ...(o.reference ? { reference: o.reference } : {}),
  });
  expectOneAnswer(answers);
  // The credit is made in the background after the claim: wait for it, then once only.
  for (let i = 0; i < 100 && (await mainNano(h.balances, 'acme', o.account)) === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  expect(await mainNano(h.balances, 'acme', o.account)).toBe(Number(o.gbp * GBP));
}

/** Events of an account by type prefix (one per effect). */
const eventsOf = async (account: string, type: string) =>
  count(`FROM ${schema}.events WHERE tenant = 'acme' AND account_id = $1 AND type LIKE $2`, [
    account,
    `${type}%`,
  ]);

const count = async (sql: string, params: unknown[]) =>
  Number((await pool.query<{ n: string }>(`SELECT count(*)::text AS n ${sql}`, params)).rows[0]!.n);

describe('money moves once', () => {
  it('POST /v1/accounts/{id}/payments', async () => {
    await newAccount(h.balances, 'acme', 'pay1');
    await openInvoice(pool, schema, 'acme', 'pay1', 1, 30n * GBP, '2026-10-15');
    const before = await mainNano(h.balances, 'acme', 'pay1');
    const body = { reference: 'ds-pay-1', amount: '50.00', currency: 'GBP', method: 'card' };
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/pay1/payments', body);
    expectOneAnswer(answers);
    expect((await mainNano(h.balances, 'acme', 'pay1')) - before).toBe(Number(50n * GBP));
    expect(
      await count(`FROM ${schema}.payments WHERE tenant = 'acme' AND reference = $1`, ['ds-pay-1']),
    ).toBe(1);
  });

  it('POST /v1/payments/{id}/refunds', async () => {
    await newAccount(h.balances, 'acme', 'pay2');
    const paid = await h.call('acme-billing', 'POST', '/v1/accounts/pay2/payments', {
      reference: 'ds-pay-2',
      amount: '40.00',
      currency: 'GBP',
    });
    expect(paid.statusCode).toBe(201);
    const before = await mainNano(h.balances, 'acme', 'pay2');
    const answers = await thrice('acme-billing', 'POST', `/v1/payments/${paid.json().id}/refunds`, {
      reference: 'ds-refund-2',
      amount: '15.00',
    });
    expectOneAnswer(answers);
    expect(before - (await mainNano(h.balances, 'acme', 'pay2'))).toBe(Number(15n * GBP));
    expect(
      await count(
        `FROM ${schema}.payments WHERE tenant = 'acme' AND kind = 'refund' AND account_id = 'pay2'`,
        [],
      ),
    ).toBe(1);
  });

  it('POST /v1/payments/{id}/refunds of all that is left', async () => {
    await newAccount(h.balances, 'acme', 'pay4');
    const paid = await h.call('acme-billing', 'POST', '/v1/accounts/pay4/payments', {
      reference: 'ds-pay-4',
      amount: '25.00',
      currency: 'GBP',
    });
    expect(paid.statusCode).toBe(201);
    const answers = await thrice('acme-billing', 'POST', `/v1/payments/${paid.json().id}/refunds`, {
      reference: 'ds-refund-4',
      amount: '25.00',
    });
    expectOneAnswer(answers);
    expect(await mainNano(h.balances, 'acme', 'pay4')).toBe(0);
    expect(await eventsOf('pay4', 'payment.refunded')).toBe(1);
  });

  it('POST /v1/accounts/{id}/credits and /debits', async () => {
    await newAccount(h.balances, 'acme', 'adj1', { type: 'prepaid' });
    const credits = await thrice('acme-billing', 'POST', '/v1/accounts/adj1/credits', {
      balanceId: 'main',
      amount: '7.00',
      reference: 'ds-credit-1',
    });
    expectOneAnswer(credits);
    expect(await mainNano(h.balances, 'acme', 'adj1')).toBe(Number(7n * GBP));
    const debits = await thrice('acme-billing', 'POST', '/v1/accounts/adj1/debits', {
      amount: '2.00',
      reference: 'ds-debit-1',
    });
    expectOneAnswer(debits);
    expect(await mainNano(h.balances, 'acme', 'adj1')).toBe(Number(5n * GBP));
    // All that is left: the replays must not be refused for the money the first took.
    expectOneAnswer(
      await thrice('acme-billing', 'POST', '/v1/accounts/adj1/debits', {
        amount: '5.00',
        reference: 'ds-debit-2',
      }),
    );
    expect(await mainNano(h.balances, 'acme', 'adj1')).toBe(0);
  });

  it('POST /v1/accounts/{id}/vouchers/redeem', async () => {
    await voucherRedeemedThrice({
      key: 'acme-billing',
      url: '/v1/accounts/vch1/vouchers/redeem',
      account: 'vch1',
      gbp: 10n,
      batch: 'ds-batch-redeem',
      reference: 'ds-redeem-1',
    });
  });

  it('POST /v1/voucher-batches', async () => {
    const body = {
      reference: 'ds-batch-1',
      count: 3,
      value: { amount: '5.00', currency: 'GBP' },
      expiresAt: IN_A_YEAR,
    };
    const answers = await thrice('acme-billing', 'POST', '/v1/voucher-batches', body);
    // A replay answers the batch as it is now (generating, then active): the same batch and serials.
    expectOneAnswer(answers, ['status', 'vouchers']);
    expect(
      await count(`FROM ${schema}.voucher_batches WHERE tenant = 'acme' AND reference = $1`, ['ds-batch-1']),
    ).toBe(1);
  });

  // Two of three answered 409 COUPON_ALREADY_REDEEMED: redeem() read the reference before it locked
  // the coupon, so the second, once the first committed, refused instead of replaying.
  it('POST /v1/accounts/{id}/coupons', async () => {
    await newAccount(h.balances, 'acme', 'cpn1');
    const put = await h.call('acme-billing', 'PUT', '/v1/coupons/DSTEN', {
      kind: 'percent',
      percent: '0.10',
      duration: 'once',
    });
    expect(put.statusCode).toBeLessThan(300);
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/cpn1/coupons', {
      code: 'DSTEN',
      reference: 'ds-coupon-1',
    });
    expectOneAnswer(answers);
    expect(
      await count(`FROM ${schema}.coupon_redemptions WHERE tenant = 'acme' AND account_id = 'cpn1'`, []),
    ).toBe(1);
  });
});

describe('documents are written once', () => {
  const AT = new Date('2026-12-02T10:00:00Z');
  let seq = 0;
  const finalized = async (account: string) => {
    const id = await addDraft(pool, schema, draftOf('acme', account, ++seq));
    await finalizeInvoices({ pool, schema }, 'acme', [id], AT);
    return id;
  };
  const notes = (invoiceId: string) =>
    count(`FROM ${schema}.credit_notes WHERE tenant = 'acme' AND invoice_id = $1`, [invoiceId]);

  it('POST /v1/invoices/{id}/finalize', async () => {
    const id = await addDraft(pool, schema, draftOf('acme', 'doc1', ++seq));
    const answers = await thrice('acme-billing', 'POST', `/v1/invoices/${id}/finalize`, {
      reference: 'ds-fin-1',
    });
    expectOneAnswer(answers);
  });

  it('POST /v1/invoices/{id}/credit-notes', async () => {
    const id = await finalized('doc2');
    const answers = await thrice('acme-billing', 'POST', `/v1/invoices/${id}/credit-notes`, {
      amount: '1.00',
      reason: 'goodwill',
      reference: 'ds-cn-1',
    });
    expectOneAnswer(answers);
    expect(await notes(id)).toBe(1);
    expect(await eventsOf('doc2', 'credit_note.')).toBe(1);
  });

  it('POST /v1/invoices/{id}/void', async () => {
    const id = await finalized('doc3');
    const answers = await thrice('acme-billing', 'POST', `/v1/invoices/${id}/void`, {
      reason: 'wrong account',
      reference: 'ds-void-1',
    });
    expectOneAnswer(answers);
    expect(await notes(id)).toBe(1);
  });

  it('DELETE /v1/invoices/{id}', async () => {
    const id = await addDraft(pool, schema, draftOf('acme', 'doc4', ++seq));
    const answers = await thrice('acme-billing', 'DELETE', `/v1/invoices/${id}?reference=ds-del-1`);
    expectOneAnswer(answers);
  });
});

describe('bills are made once', () => {
  it('POST /v1/accounts/{id}/invoices (off-cycle)', async () => {
    await addAccount(run.balances, pool, schema, {
      id: 'off1',
      createdAt: new Date(NOW - 10 * 86_400_000).toISOString(),
    });
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/off1/invoices', {
      reference: 'ds-off-1',
    });
    // A replay while the first request's run is running answers 202 with the bill closed and not
    // issued yet (invoice and runId null): the close is the same, the invoice made once.
    for (const a of answers) expect(a.statusCode, a.body).toBeLessThan(300);
    const closed = answers.map((a) => {
      const {
        runId: _r,
        invoice: _i,
        ...rest
      } = a.json<{ billSeq: number; runId: unknown; invoice: unknown }>();
      return rest;
    });
    for (const c of closed.slice(1)) expect(c).toEqual(closed[0]);
    const billSeq = closed[0]!.billSeq;
    expect(
      await count(`FROM ${schema}.invoices WHERE tenant = 'acme' AND account_id = 'off1' AND bill_seq = $1`, [
        billSeq,
      ]),
    ).toBe(1);
    expect(
      await count(
        `FROM ${schema}.bill_periods WHERE tenant = 'acme' AND account_id = 'off1' AND period_end = $1`,
        [new Date(NOW)],
      ),
    ).toBe(1);
  });

  it('POST /v1/billing/runs (the asOf is the run): one run, the others 409 RUN_IN_PROGRESS (#7)', async () => {
    // docs/BILLING.md and run.test.ts #7: a second start at once, even of the same asOf, is refused
    // (not joined); what a double send must never do is start two runs or answer 500.
    await addAccount(run.balances, pool, schema, { id: 'run1', createdAt: '2026-10-01T00:00:00Z' });
    const answers = await thrice('acme-billing', 'POST', '/v1/billing/runs', {
      asOf: '2026-11-02T00:00:00Z',
      accounts: ['run1'],
    });
    const started = answers.filter((a) => a.statusCode === 202);
    expect(started.length).toBeGreaterThanOrEqual(1);
    for (const a of answers)
      if (a.statusCode !== 202) expect([a.statusCode, a.json().cause]).toEqual([409, 'RUN_IN_PROGRESS']);
    expect(new Set(started.map((a) => a.json<{ runId: string }>().runId)).size).toBe(1);
    expect(
      await count(`FROM ${schema}.billing_runs WHERE tenant = 'acme' AND as_of = '2026-11-02T00:00:00Z'`, []),
    ).toBe(1);
  });
});

describe('settings are saved once', () => {
  it('PUT /v1/accounts/{id}/auto-topup', async () => {
    await newAccount(h.balances, 'acme', 'atu1', { type: 'prepaid' });
    const answers = await thrice('acme-billing', 'PUT', '/v1/accounts/atu1/auto-topup', {
      reference: 'ds-atu-1',
      threshold: '2.00',
      amount: '10.00',
      maxPerDay: 2,
      maxPerMonth: 10,
    });
    expectOneAnswer(answers);
  });
});

describe('postings and allocations move money once', () => {
  it('POST /v1/accounts/{id}/payments with allocations', async () => {
    await newAccount(h.balances, 'acme', 'pay3');
    const a = await openInvoice(pool, schema, 'acme', 'pay3', 1, 30n * GBP, '2026-10-15');
    const b = await openInvoice(pool, schema, 'acme', 'pay3', 2, 40n * GBP, '2026-11-15');
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/pay3/payments', {
      reference: 'ds-pay-3',
      amount: '50.00',
      currency: 'GBP',
      allocations: [
        { invoiceId: a, amount: '30.00' },
        { invoiceId: b, amount: '20.00' },
      ],
    });
    expectOneAnswer(answers);
    expect(await mainNano(h.balances, 'acme', 'pay3')).toBe(Number(50n * GBP));
    const due = await pool.query<{ d: string }>(
      `SELECT sum(amount_due_nano)::text AS d FROM ${schema}.invoices WHERE id = ANY($1::uuid[])`,
      [[a, b]],
    );
    expect(due.rows[0]!.d).toBe((20n * GBP).toString());
  });

  it('finalize, credit note (account credit) and void of a postpaid account post once', async () => {
    // post1 gets each write three times at once, post2 (the control) once: their balances agree.
    const main = async () => [
      await mainNano(h.balances, 'acme', 'post1'),
      await mainNano(h.balances, 'acme', 'post2'),
    ];
    const drafts = async (n: number) => {
      const [one, two] = await Promise.all(
        ['post1', 'post2'].map((acct) => addDraft(pool, schema, draftOf('acme', acct, n))),
      );
      return { one: one!, two: two! };
    };
    for (const acct of ['post1', 'post2'])
      await addAccount(run.balances, pool, schema, { id: acct, createdAt: '2026-10-01T00:00:00Z' });
    const fin = (id: string, ref: string, n: number) =>
      n === 3
        ? thrice('acme-billing', 'POST', `/v1/invoices/${id}/finalize`, { reference: ref })
        : h.call('acme-billing', 'POST', `/v1/invoices/${id}/finalize`, { reference: ref }).then((r) => [r]);
    const first = await drafts(900);
    expectOneAnswer(await fin(first.one, 'ds-fin-p1', 3));
    expectOneAnswer(await fin(first.two, 'ds-fin-p2', 1));
    let [p1, p2] = await main();
    expect(p1).not.toBe(0);
    expect(p1).toBe(p2);
    const note = (id: string, ref: string) => ({
      url: `/v1/invoices/${id}/credit-notes`,
      body: { amount: '1.00', reason: 'goodwill', effect: 'account_credit', reference: ref },
    });
    const n1 = note(first.one, 'ds-cn-p1');
    const n2 = note(first.two, 'ds-cn-p2');
    expectOneAnswer(await thrice('acme-billing', 'POST', n1.url, n1.body));
    expectOneAnswer([await h.call('acme-billing', 'POST', n2.url, n2.body)]);
    [p1, p2] = await main();
    expect(p1).toBe(p2);
    const second = await drafts(901);
    expectOneAnswer(await fin(second.one, 'ds-fin-p3', 3));
    expectOneAnswer(await fin(second.two, 'ds-fin-p4', 1));
    const body = (ref: string) => ({ reason: 'wrong', reference: ref });
    expectOneAnswer(
      await thrice('acme-billing', 'POST', `/v1/invoices/${second.one}/void`, body('ds-void-p1')),
    );
    expectOneAnswer([
      await h.call('acme-billing', 'POST', `/v1/invoices/${second.two}/void`, body('ds-void-p2')),
    ]);
    [p1, p2] = await main();
    expect(p1).toBe(p2);
  });

  it('POST /v1/accounts/{id}/vouchers/redeem without a reference (the PIN is the id)', async () => {
    await voucherRedeemedThrice({
      key: 'acme-billing',
      url: '/v1/accounts/vch3/vouchers/redeem',
      account: 'vch3',
      gbp: 6n,
      batch: 'ds-batch-noref',
    });
  });
});

describe('auto top-up results are counted once', () => {
  it('POST /v1/accounts/{id}/auto-topup/results', async () => {
    await newAccount(h.balances, 'acme', 'atu2', { type: 'prepaid' });
    const set = await h.call('acme-billing', 'PUT', '/v1/accounts/atu2/auto-topup', {
      reference: 'ds-atu-2',
      threshold: '2.00',
      amount: '10.00',
      maxPerDay: 2,
      maxPerMonth: 10,
    });
    expect(set.statusCode).toBe(200);
    const requestId = '6d4c8f0e-0b7a-4a51-9d8e-1f2a3b4c5d6e';
    await pool.query(
      `INSERT INTO ${schema}.auto_topup_requests (id, tenant, account_id, amount_nano, status, requested_at)
       VALUES ($1, 'acme', 'atu2', $2, 'requested', now())`,
      [requestId, (10n * GBP).toString()],
    );
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/atu2/auto-topup/results', {
      requestId,
      outcome: 'failed',
      reference: 'ds-psp-1',
    });
    expectOneAnswer(answers);
    const rule = await pool.query<{ n: number }>(
      `SELECT consecutive_failures AS n FROM ${schema}.auto_topup_rules WHERE tenant = 'acme' AND account_id = 'atu2'`,
    );
    expect(rule.rows[0]!.n).toBe(1);
  });
});

describe('catalog writes by code are made once', () => {
  const PLAN = { period: 'month', prices: { GBP: '15.00' }, taxCode: 'DSVAT' };
  const vat = () =>
    h.call('acme-billing', 'PUT', '/v1/taxes/DSVAT', { rate: '0.20', validFrom: '2020-01-01' });

  it('PUT /v1/taxes/{code}', async () => {
    const answers = await thrice('acme-billing', 'PUT', '/v1/taxes/DSVAT', {
      rate: '0.20',
      validFrom: '2020-01-01',
      reference: 'ds-tax-1',
    });
    expectOneAnswer(answers);
    expect(await count(`FROM ${schema}.taxes WHERE tenant = 'acme' AND code = 'DSVAT'`, [])).toBe(1);
  });

  it('PUT /v1/tax-profiles/{code}', async () => {
    expect((await vat()).statusCode).toBeLessThan(300);
    const answers = await thrice('acme-billing', 'PUT', '/v1/tax-profiles/DSUK', {
      mapping: { fee: 'DSVAT' },
      reference: 'ds-taxp-1',
    });
    expectOneAnswer(answers);
  });

  it('PUT /v1/coupons/{code}', async () => {
    const answers = await thrice('acme-billing', 'PUT', '/v1/coupons/DSFIVE', {
      kind: 'fixed',
      amounts: { GBP: '5.00' },
      duration: 'once',
      reference: 'ds-cpn-put-1',
    });
    expectOneAnswer(answers);
  });

  it('PUT /v1/plans/{code}', async () => {
    expect((await vat()).statusCode).toBeLessThan(300);
    const answers = await thrice('acme-billing', 'PUT', '/v1/plans/dsplan', PLAN);
    expectOneAnswer(answers);
    expect(await count(`FROM ${schema}.plans WHERE tenant = 'acme' AND code = 'dsplan'`, [])).toBe(1);
  });

  it('PUT /v1/billing-entity', async () => {
    const answers = await thrice('globex-billing', 'PUT', '/v1/billing-entity', {
      legalName: 'Globex Ltd',
      country: 'GB',
      reference: 'ds-entity-1',
    });
    expectOneAnswer(answers);
  });

  it('PUT /v1/accounts/{id}/billing', async () => {
    await newAccount(h.balances, 'acme', 'prof1');
    const answers = await thrice('acme-billing', 'PUT', '/v1/accounts/prof1/billing', {
      billCycleDay: 5,
      timezone: 'Europe/London',
      reference: 'ds-prof-1',
    });
    expectOneAnswer(answers);
  });

  it('PUT /v1/invoice-series/{code}', async () => {
    const answers = await thrice('acme-billing', 'PUT', '/v1/invoice-series/DS', {
      documentType: 'invoice',
      prefix: 'DS-',
      padding: 6,
      reset: 'never',
      nextNumber: 1,
      reference: 'ds-series-1',
    });
    expectOneAnswer(answers);
  });
});

describe('vouchers of a plan and a customer’s own redemption', () => {
  it('POST /v1/me/vouchers/redeem', async () => {
    await voucherRedeemedThrice({
      key: 'acme-alice',
      url: '/v1/me/vouchers/redeem',
      account: 'alice',
      gbp: 4n,
      batch: 'ds-batch-me',
      reference: 'ds-redeem-me',
    });
  });

  it('POST /v1/accounts/{id}/vouchers/redeem of a plan voucher', async () => {
    await h.call('acme-billing', 'PUT', '/v1/taxes/DSVAT', { rate: '0.20', validFrom: '2020-01-01' });
    const plan = await h.call('acme-billing', 'PUT', '/v1/plans/dsvplan', {
      period: 'month',
      prices: { GBP: '1.00' },
      taxCode: 'DSVAT',
    });
    expect(plan.statusCode, plan.body).toBeLessThan(300);
    await newAccount(h.balances, 'acme', 'vch2', { type: 'prepaid', mainNano: Number(10n * GBP) });
    const { pins } = await batchWithPins(h, 'acme', {
      reference: 'ds-batch-plan',
      count: 1,
      value: { plan: 'dsvplan' },
    });
    const answers = await thrice('acme-billing', 'POST', '/v1/accounts/vch2/vouchers/redeem', {
      pin: pins[0]![1],
      reference: 'ds-redeem-plan',
    });
    expectOneAnswer(answers);
    expect(
      await count(`FROM ${schema}.account_plans WHERE tenant = 'acme' AND account_id = 'vch2'`, []),
    ).toBe(1);
  });
});

describe('plan assignments, changes and cancellations charge once', () => {
  it('POST, PATCH and DELETE /v1/accounts/{id}/plans against a control account', async () => {
    await h.call('acme-billing', 'PUT', '/v1/taxes/DSVAT', { rate: '0.20', validFrom: '2020-01-01' });
    for (const [code, price] of [
      ['dsp1', '3.00'],
      ['dsp2', '7.00'],
    ] as const)
      expect(
        (
          await h.call('acme-billing', 'PUT', `/v1/plans/${code}`, {
            period: 'month',
            prices: { GBP: price },
            taxCode: 'DSVAT',
          })
        ).statusCode,
      ).toBeLessThan(300);
    for (const acct of ['pl1', 'pl2'])
      await newAccount(h.balances, 'acme', acct, { type: 'prepaid', mainNano: Number(100n * GBP) });
    // pl1 gets each request three times at once, pl2 once: the same money must have moved.
    const send = async (
      method: 'POST' | 'PATCH' | 'DELETE',
      url: (acct: string) => string,
      body: ((acct: string) => object) | undefined,
    ) => {
      const many = await thrice('acme-billing', method, url('pl1'), body?.('pl1'));
      expectOneAnswer(many);
      const one = await h.call('acme-billing', method, url('pl2'), body?.('pl2'));
      expect(one.statusCode, one.body).toBeLessThan(300);
      expect(await mainNano(h.balances, 'acme', 'pl1')).toBe(await mainNano(h.balances, 'acme', 'pl2'));
      return [many[0]!.json<{ id: string }>(), one.json<{ id: string }>()] as const;
    };
    const [a1, a2] = await send(
      'POST',
      (acct) => `/v1/accounts/${acct}/plans`,
      (acct) => ({ plan: 'dsp1', reference: `ds-assign-${acct}` }),
    );
    expect(await mainNano(h.balances, 'acme', 'pl1')).toBeLessThan(Number(100n * GBP));
    const ids: Record<string, string> = { pl1: a1.id, pl2: a2.id };
    await send(
      'PATCH',
      (acct) => `/v1/accounts/${acct}/plans/${ids[acct]}`,
      (acct) => ({ plan: 'dsp2', effective: 'now', reference: `ds-change-${acct}` }),
    );
    await send(
      'DELETE',
      (acct) =>
        `/v1/accounts/${acct}/plans/${ids[acct]}?reference=ds-cancel-${acct}&effective=now&refundUnused=true`,
      undefined,
    );
  });
});

describe('provisioning with a caller id is done once', () => {
  it('POST /v1/accounts, its balances and subscriptions', async () => {
    expectOneAnswer(
      await thrice('acme-billing', 'POST', '/v1/accounts', {
        id: 'prov1',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'prov1',
        reference: 'ds-acct-1',
      }),
    );
    expectOneAnswer(
      await thrice('acme-billing', 'POST', '/v1/accounts/prov1/balances', {
        id: 'main',
        unit: 'money',
        value: '3',
        reference: 'ds-bal-1',
      }),
    );
    expect(await mainNano(h.balances, 'acme', 'prov1')).toBe(Number(3n * GBP));
    expectOneAnswer(
      await thrice('acme-billing', 'POST', '/v1/accounts/prov1/subscriptions', {
        type: 'msisdn',
        value: '447700900123',
        reference: 'ds-sub-1',
      }),
    );
    expectOneAnswer(
      await thrice('acme-billing', 'PATCH', '/v1/accounts/prov1', {
        subject: 'other',
        reference: 'ds-patch-1',
      }),
    );
    expectOneAnswer(
      await thrice('acme-billing', 'PATCH', '/v1/accounts/prov1/balances/main', {
        weight: 20,
        reference: 'ds-bpatch-1',
      }),
    );
    expectOneAnswer(
      await thrice(
        'acme-billing',
        'DELETE',
        '/v1/accounts/prov1/subscriptions/msisdn/447700900123?reference=ds-unsub-1',
      ),
    );
    expectOneAnswer(
      await thrice('acme-billing', 'DELETE', '/v1/accounts/prov1/balances/main?reference=ds-unbal-1'),
    );
  });
});
