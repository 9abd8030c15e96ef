/**
 * A draft refreshed and an off-cycle invoice (billing.md E.4, E.6 #10), over HTTP on real Redis and
 * PostgreSQL. `POST /v1/invoices/{id}/refresh`: a CDR of October stored after the draft's cut-off is on
 * the draft once refreshed, and not again on November's bill; a replay answers the first answer; the
 * same reference elsewhere, another tenant, a customer, a malformed body and a run in progress are
 * refused; a draft whose next bill is cut off, or a finalized invoice, is refused with nothing changed
 * (rows diffed). `POST /v1/accounts/{id}/invoices`: the current period ends at the request's instant,
 * the next one starts there, the bill is issued by a run for that account, a replay closes nothing
 * more, and usage of before that instant stored after its cut-off is late usage on the next bill.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../../src/config.js';
import { nextAnchor } from '../../../src/billing/core/periods.js';
import { documentHooks } from '../../../src/billing/run/posting.js';
import { runBilling, runLockKey } from '../../../src/billing/run/run.js';
import { importCdrFile } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { testApp } from '../../support/app.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, ensureAll, oneCdr, runDeps } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const NOW = Date.now();
const deps = runDeps(pool, schema, redis, prefix, NOW);
const { balances } = deps;
const importDeps = { balances, pool, schema, rating };
const RF = '447700900011';
const OC = '447700900012';
let app: FastifyInstance;
const BILLING = { authorization: 'Bearer demo-billing' };

beforeAll(async () => {
  await ensureAll(pool, schema);
  await addVat(pool, schema);
  // rf: drafts are kept as drafts (not finalized by the run), so they can be refreshed.
  await addAccount(balances, pool, schema, {
    id: 'rf',
    createdAt: '2026-10-01T00:00:00Z',
    taxProfile: 'uk',
    msisdn: RF,
  });
  await pool.query(`UPDATE ${schema}.billing_accounts SET auto_finalize = false WHERE account_id = 'rf'`);
  // oc: billed since ten days ago, auto-finalized; its off-cycle bill is issued at once.
  await addAccount(balances, pool, schema, {
    id: 'oc',
    createdAt: new Date(NOW - 10 * 86_400_000).toISOString(),
    taxProfile: 'uk',
    msisdn: OC,
  });
  const keys = [
    ...DEMO_KEYS,
    { key: 'beta-billing', role: 'billing' as const, tenant: 'beta', name: 'beta billing' },
    { key: 'rf-self', role: 'selfcare' as const, tenant: 'acme', accountId: 'rf', name: 'rf customer' },
  ];
  ({ app } = await testApp({
    redis,
    prefix,
    keys,
    billingRuns: deps,
    documents: { pool, schema, hooks: documentHooks(balances, schema), now: () => NOW },
  }));
}, 60_000);
afterAll(async () => {
  await app.close();
  await rating.close();
});

const cdr = (id: string, msisdn: string, at: string) =>
  importCdrFile(importDeps, oneCdr(id, msisdn, at), { fileId: id });
const post = (url: string, payload: object, headers: Record<string, string> = BILLING) =>
  app.inject({ method: 'POST', url, headers, payload });
const run = (at: string) => runBilling(deps, { tenant: 'acme', asOf: new Date(at), accounts: ['rf'] });

async function invoiceOf(account: string, seq: number) {
  const r = await pool.query<{ id: string; status: string; cutoff: string }>(
    `SELECT id, status, cutoff_at::text AS cutoff FROM ${schema}.invoices WHERE account_id = $1 AND bill_seq = $2`,
    [account, seq],
  );
  return r.rows[0]!;
}
async function linesOf(account: string, seq: number) {
  const r = await pool.query<{ kind: string; quantity: string | null; exact: string }>(
    `SELECT l.kind, l.quantity::text AS quantity, l.exact_nano::text AS exact
       FROM ${schema}.invoice_lines l JOIN ${schema}.invoices i ON i.id = l.invoice_id
      WHERE i.account_id = $1 AND i.bill_seq = $2 ORDER BY l.seq`,
    [account, seq],
  );
  return r.rows;
}
/** Everything a refused request must leave as it was: the account's invoices, lines, periods, audit. */
async function state(account: string): Promise<string> {
  const q = async (sql: string) => JSON.stringify((await pool.query(sql, [account])).rows);
  return [
    await q(`SELECT * FROM ${schema}.invoices WHERE account_id = $1 ORDER BY bill_seq`),
    await q(
      `SELECT l.* FROM ${schema}.invoice_lines l JOIN ${schema}.invoices i ON i.id = l.invoice_id
        WHERE i.account_id = $1 ORDER BY l.invoice_id, l.seq`,
    ),
    await q(`SELECT * FROM ${schema}.bill_periods WHERE account_id = $1 ORDER BY seq`),
    await q(
      `SELECT a.action, a.detail FROM ${schema}.invoice_audit a JOIN ${schema}.invoices i ON i.id = a.document_id
        WHERE i.account_id = $1 ORDER BY a.id`,
    ),
  ].join('\n');
}
/** Runs `fn` while another session holds the tenant's run lock, as a running billing run does. */
async function duringRun(fn: () => Promise<void>): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock(hashtext($1))', [runLockKey(schema, 'acme')]);
    await fn();
  } finally {
    await c.query('SELECT pg_advisory_unlock(hashtext($1))', [runLockKey(schema, 'acme')]);
    c.release();
  }
}
const chargedOf = async (msisdnAccount: string) =>
  (
    await pool.query<{ n: string }>(
      `SELECT coalesce(sum(charged_nano), 0)::text AS n FROM ${schema}.rated_cdrs WHERE account_id = $1`,
      [msisdnAccount],
    )
  ).rows[0]!.n;

describe('POST /v1/invoices/{id}/refresh', () => {
  let draftId = '';

  it('takes in a CDR stored after the cut-off, by the run’s own drafting, once', async () => {
    await cdr('rf-a', RF, '2026-10-10T09:00:00.000Z');
    const oct = await run('2026-11-02T00:00:00Z');
    expect(oct.counters).toMatchObject({ drafted: 1, finalized: 0 });
    const before = await invoiceOf('rf', 1);
    draftId = before.id;
    expect((await linesOf('rf', 1)).map((l) => [l.kind, l.quantity])).toEqual([['usage', '1']]);
    // October's CDR arrives after the draft's cut-off: without a refresh it would be November's late usage.
    await cdr('rf-late', RF, '2026-10-20T18:00:00.000Z');
    const res = await post(`/v1/invoices/${draftId}/refresh`, { reference: 'rf-refresh-1' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      id: draftId,
      status: 'draft',
      accountId: 'rf',
      billSeq: 1,
      currency: 'GBP',
    });
    expect(Date.parse(body.cutoffAt)).toBeGreaterThan(Date.parse(body.previousCutoffAt));
    const after = await invoiceOf('rf', 1);
    expect([after.id, after.status]).toEqual([draftId, 'draft']);
    const lines = await linesOf('rf', 1);
    expect(lines.map((l) => [l.kind, l.quantity])).toEqual([['usage', '2']]);
    expect(lines[0]!.exact).toBe(await chargedOf('rf'));
    // The period's cut-off moved with the draft (microseconds kept), so the next bill starts after it.
    const p = await pool.query<{ cutoff: string }>(
      `SELECT cutoff_at::text AS cutoff FROM ${schema}.bill_periods WHERE account_id = 'rf' AND seq = 1`,
    );
    expect(Date.parse(p.rows[0]!.cutoff)).toBe(Date.parse(after.cutoff));
    expect(Date.parse(p.rows[0]!.cutoff)).toBeGreaterThan(Date.parse(before.cutoff));
  });

  it('answers a replay with the first answer and changes nothing; the reference elsewhere is 409', async () => {
    const first = await post(`/v1/invoices/${draftId}/refresh`, { reference: 'rf-refresh-1' });
    const kept = await state('rf');
    await cdr('rf-late2', RF, '2026-10-21T18:00:00.000Z');
    const replay = await post(`/v1/invoices/${draftId}/refresh`, { reference: 'rf-refresh-1' });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
    expect(await state('rf')).toBe(kept);
    const reused = await post(`/v1/invoices/${draftId}/finalize`, { reference: 'rf-refresh-1' });
    expect([reused.statusCode, reused.json().cause]).toEqual([409, 'CONFLICT']);
    expect(await state('rf')).toBe(kept);
    // A new reference refreshes again: the second late CDR joins.
    const again = await post(`/v1/invoices/${draftId}/refresh`, { reference: 'rf-refresh-2' });
    expect(again.statusCode).toBe(200);
    expect((await linesOf('rf', 1)).map((l) => l.quantity)).toEqual(['3']);
  });

  it('refuses another tenant (404), a customer (403) and a malformed body (400), changing nothing', async () => {
    const kept = await state('rf');
    const url = `/v1/invoices/${draftId}/refresh`;
    const other = await post(url, { reference: 'x1' }, { authorization: 'Bearer beta-billing' });
    expect([other.statusCode, other.json().cause]).toEqual([404, 'NOT_FOUND']);
    expect((await post(url, { reference: 'x2' }, { authorization: 'Bearer rf-self' })).statusCode).toBe(403);
    for (const body of [{}, { reference: 'x3', cutoffAt: '2026-11-01T00:00:00Z' }, { reference: '' }]) {
      const bad = await post(url, body);
      expect([bad.statusCode, bad.json().cause]).toEqual([400, 'INVALID_REQUEST']);
    }
    await duringRun(async () => {
      const busy = await post(url, { reference: 'x5' });
      expect([busy.statusCode, busy.json().cause]).toEqual([409, 'RUN_IN_PROGRESS']);
    });
    const unknown = await post('/v1/invoices/00000000-0000-4000-8000-000000000000/refresh', {
      reference: 'x4',
    });
    expect(unknown.statusCode).toBe(404);
    expect(await state('rf')).toBe(kept);
  });

  it('leaves the late CDRs off November’s bill, and then refuses to refresh October (409)', async () => {
    await cdr('rf-nov', RF, '2026-11-15T12:00:00.000Z');
    const nov = await run('2026-12-02T00:00:00Z');
    expect(nov.counters.drafted).toBe(1);
    expect((await linesOf('rf', 2)).map((l) => [l.kind, l.quantity])).toEqual([['usage', '1']]);
    // Every CDR on exactly one bill: 3 on October's, 1 on November's, their money all accounted.
    const octExact = BigInt((await linesOf('rf', 1))[0]!.exact);
    const novExact = BigInt((await linesOf('rf', 2))[0]!.exact);
    expect(octExact + novExact).toBe(BigInt(await chargedOf('rf')));
    // November is cut off: October's rebuild could take rows November holds as late usage.
    const kept = await state('rf');
    const res = await post(`/v1/invoices/${draftId}/refresh`, { reference: 'rf-refresh-3' });
    expect([res.statusCode, res.json().cause]).toEqual([409, 'LATER_BILL_CUT_OFF']);
    expect(await state('rf')).toBe(kept);
  });

  it('refuses a finalized invoice with 409 INVOICE_NOT_DRAFT, nothing changed (E.6 #10)', async () => {
    const novId = (await invoiceOf('rf', 2)).id;
    await cdr('rf-late-nov', RF, '2026-11-20T12:00:00.000Z');
    const fin = await post(`/v1/invoices/${novId}/finalize`, { reference: 'rf-fin-2' });
    expect(fin.statusCode).toBe(200);
    const kept = await state('rf');
    const res = await post(`/v1/invoices/${novId}/refresh`, { reference: 'rf-refresh-4' });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().cause).toBe('INVOICE_NOT_DRAFT');
    expect(await state('rf')).toBe(kept);
  });
});

describe('POST /v1/accounts/{id}/invoices (off-cycle)', () => {
  const T = new Date(NOW).toISOString();

  it('ends the current period at the request, starts the next there, and issues the bill', async () => {
    await cdr('oc-a', OC, new Date(NOW - 60_000).toISOString());
    const res = await post('/v1/accounts/oc/invoices', { reference: 'oc-final-1' });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      accountId: 'oc',
      periodEnd: T,
      next: { billSeq: body.billSeq + 1, periodStart: T },
    });
    expect(body.next.periodEnd).toBe(new Date(nextAnchor(NOW, 1, 'UTC')).toISOString());
    expect(body.invoice).toMatchObject({ status: 'finalized', currency: 'GBP' });
    expect(body.invoice.number).toMatch(/^INV\d{4}-\d+$/);
    expect(body.runId).toMatch(/^[0-9a-f-]{36}$/);
    // No gap: the bill ends where the next period starts, at the request's instant.
    const periods = await pool.query<{ seq: number; start: Date; end: Date; status: string }>(
      `SELECT seq, period_start AS start, period_end AS "end", status FROM ${schema}.bill_periods
        WHERE account_id = 'oc' ORDER BY seq`,
    );
    const rows = periods.rows;
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.start.getTime()).toBe(rows[i - 1]!.end.getTime());
    const bill = rows.find((p) => p.seq === body.billSeq)!;
    expect([bill.end.getTime(), bill.status]).toEqual([NOW, 'finalized']);
    expect(rows.at(-1)).toMatchObject({ seq: body.billSeq + 1, status: 'open' });
    expect(rows.at(-1)!.start.getTime()).toBe(NOW);
    const lines = await linesOf('oc', body.billSeq);
    expect(lines.map((l) => [l.kind, l.quantity])).toEqual([['usage', '1']]);
    expect(lines[0]!.exact).toBe(await chargedOf('oc'));
  });

  it('replays the first answer without closing another period; refuses others, changing nothing', async () => {
    const kept = await state('oc');
    const replay = await post('/v1/accounts/oc/invoices', { reference: 'oc-final-1' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toMatchObject({ periodEnd: T, invoice: { status: 'finalized' } });
    expect(await state('oc')).toBe(kept);
    const elsewhere = await post('/v1/accounts/rf/invoices', { reference: 'oc-final-1' });
    expect([elsewhere.statusCode, elsewhere.json().cause]).toEqual([409, 'CONFLICT']);
    const other = await post(
      '/v1/accounts/oc/invoices',
      { reference: 'b1' },
      { authorization: 'Bearer beta-billing' },
    );
    expect([other.statusCode, other.json().cause]).toEqual([404, 'ACCOUNT_NOT_FOUND']);
    expect(
      (await post('/v1/accounts/oc/invoices', { reference: 'b2' }, { authorization: 'Bearer rf-self' }))
        .statusCode,
    ).toBe(403);
    expect((await post('/v1/accounts/oc/invoices', {})).statusCode).toBe(400);
    await duringRun(async () => {
      const busy = await post('/v1/accounts/oc/invoices', { reference: 'oc-final-3' });
      expect([busy.statusCode, busy.json().cause]).toEqual([409, 'RUN_IN_PROGRESS']);
    });
    await pool.query(
      `UPDATE ${schema}.billing_accounts SET parked_code = 'INTERNAL' WHERE account_id = 'oc'`,
    );
    const parked = await post('/v1/accounts/oc/invoices', { reference: 'oc-final-2' });
    expect([parked.statusCode, parked.json().cause]).toEqual([409, 'ACCOUNT_NOT_BILLABLE']);
    await pool.query(`UPDATE ${schema}.billing_accounts SET parked_code = NULL WHERE account_id = 'oc'`);
    expect(await state('oc')).toBe(kept);
  });

  it('puts usage of before T stored after the off-cycle cut-off on the next bill, as late usage', async () => {
    await cdr('oc-late', OC, new Date(NOW - 30_000).toISOString());
    const res = await post('/v1/accounts/oc/invoices/preview', {});
    expect(res.statusCode).toBe(200);
    expect(res.json().lines.map((l: { kind: string }) => l.kind)).toEqual(['late_usage']);
  });
});
