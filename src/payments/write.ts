/**
 * The PostgreSQL half of a payment or refund, in one transaction each: the row (`pending`), its
 * allocations, the invoices' amounts due (an invoice with nothing left due becomes `paid`, with its
 * `invoice.paid` event), then — after the Redis movement — the row `applied` with its event.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { appendEvent } from '../webhooks/append.js';
import { allocate, type Allocation, type OpenInvoice } from './allocate.js';
import { PaymentError } from './errors.js';
import { paymentById, type PaymentRow } from './rows.js';

export interface NewPayment {
  tenant: string;
  accountId: string;
  amountNano: bigint;
  currency: string;
  method: string;
  reference: string;
  requestHash: string;
  receivedAt: Date;
  allocations?: Allocation[];
}

/** The account's open invoices, locked, in the order money goes to them. */
async function lockOpenInvoices(c: PoolClient, schema: string, tenant: string, accountId: string) {
  const r = await c.query<{ id: string; due: string; number: string | null }>(
    `SELECT id, amount_due_nano::text AS due, number FROM ${schema}.invoices
      WHERE tenant = $1 AND account_id = $2 AND document_type = 'invoice' AND status = 'finalized'
        AND amount_due_nano > 0
      ORDER BY due_date NULLS LAST, issue_date NULLS LAST, finalized_at, id FOR UPDATE`,
    [tenant, accountId],
  );
  return r.rows.map((x): OpenInvoice & { number: string | null } => ({
    id: x.id,
    dueNano: BigInt(x.due),
    number: x.number,
  }));
}

const REFUSAL_TEXT = {
  INVOICE_NOT_OPEN: 'is not an open invoice of this account (finalized, not paid or void)',
  ALLOCATION_EXCEEDS_DUE: 'is allocated more than it has due',
  DUPLICATE_INVOICE: 'is named twice',
} as const;

/**
 * Takes the reference for this transaction: a request with the same reference at the same moment
 * waits here, then finds the row the first wrote (true: the caller replays it) — before any check of
 * the invoices or the payment the first one already moved, which would refuse the replay.
 */
async function referenceTaken(c: PoolClient, schema: string, tenant: string, reference: string) {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`payment:${schema}:${tenant}:${reference}`]);
  const r = await c.query(`SELECT 1 FROM ${schema}.payments WHERE tenant = $1 AND reference = $2`, [
    tenant,
    reference,
  ]);
  return r.rowCount !== 0;
}

/** Writes the payment `pending` and allocates it; null when its reference was taken meanwhile. */
export async function insertPayment(c: PoolClient, schema: string, p: NewPayment): Promise<string | null> {
  if (await referenceTaken(c, schema, p.tenant, p.reference)) return null;
  const open = await lockOpenInvoices(c, schema, p.tenant, p.accountId);
  const result = allocate(p.amountNano, open, p.allocations);
  if (!result.ok) {
    const f = result.refusal;
    if (f.cause === 'ALLOCATION_EXCEEDS_PAYMENT')
      throw new PaymentError('ALLOCATION_EXCEEDS_DUE', 'the allocations add up to more than the payment', [
        { param: '/allocations', reason: 'add up to more than the amount' },
      ]);
    const i = p.allocations!.findIndex((a) => a.invoiceId === f.invoiceId);
    throw new PaymentError('ALLOCATION_EXCEEDS_DUE', `invoice ${f.invoiceId} ${REFUSAL_TEXT[f.cause]}`, [
      { param: `/allocations/${i}`, reason: REFUSAL_TEXT[f.cause] },
    ]);
  }
  const id = randomUUID();
  const ins = await c.query(
    `INSERT INTO ${schema}.payments (id, tenant, account_id, kind, amount_nano, currency, method, reference,
       request_hash, op_id, received_at, unapplied_nano, status)
     VALUES ($1, $2, $3, 'payment', $4, $5, $6, $7, $8, $9, $10, $11, 'pending')
     ON CONFLICT (tenant, reference) DO NOTHING RETURNING id`,
    [
      id,
      p.tenant,
      p.accountId,
      p.amountNano.toString(),
      p.currency,
      p.method,
      p.reference,
      p.requestHash,
      `payment:${p.reference}`,
      p.receivedAt,
      result.unappliedNano.toString(),
    ],
  );
  if (ins.rowCount === 0) return null;
  const numbers = new Map(open.map((i) => [i.id, i.number]));
  for (const a of result.allocations)
    await allocateOne(c, schema, p, id, a, numbers.get(a.invoiceId) ?? null);
  return id;
}

async function allocateOne(
  c: PoolClient,
  schema: string,
  p: NewPayment,
  paymentId: string,
  a: Allocation,
  number: string | null,
): Promise<void> {
  await c.query(
    `INSERT INTO ${schema}.payment_allocations (payment_id, invoice_id, amount_nano) VALUES ($1, $2, $3)`,
    [paymentId, a.invoiceId, a.amountNano.toString()],
  );
  const r = await c.query<{ status: string }>(
    `UPDATE ${schema}.invoices SET amount_due_nano = amount_due_nano - $2,
            status = CASE WHEN amount_due_nano = $2 THEN 'paid' ELSE status END
      WHERE id = $1 RETURNING status`,
    [a.invoiceId, a.amountNano.toString()],
  );
  if (r.rows[0]?.status === 'paid')
    await appendEvent(c, schema, {
      tenant: p.tenant,
      type: 'invoice.paid',
      accountId: p.accountId,
      id: `invoice.paid:${a.invoiceId}`,
      payload: { invoiceId: a.invoiceId, number, paymentId, reference: p.reference },
    });
}

export interface NewRefund {
  tenant: string;
  paymentId: string;
  amountNano: bigint;
  reference: string;
  requestHash: string;
}

/** Writes the refund `pending` and takes it from the payment's unapplied credit. */
export async function insertRefund(c: PoolClient, schema: string, r: NewRefund): Promise<string | null> {
  if (await referenceTaken(c, schema, r.tenant, r.reference)) return null;
  const p = await paymentById(c, schema, r.tenant, r.paymentId, true);
  if (!p || p.kind !== 'payment') throw new PaymentError('NOT_FOUND', `no payment ${r.paymentId}`);
  const left = p.unappliedNano - p.refundedNano;
  if (r.amountNano > left)
    throw new PaymentError(
      'REFUND_EXCEEDS_PAYMENT',
      `the payment has ${left} nano of unapplied credit left to refund (allocated money is not refunded)`,
      [{ param: '/amount', reason: 'more than the unapplied credit left of the payment' }],
    );
  const id = randomUUID();
  const ins = await c.query(
    `INSERT INTO ${schema}.payments (id, tenant, account_id, kind, amount_nano, currency, method, reference,
       request_hash, op_id, received_at, refund_of, status)
     VALUES ($1, $2, $3, 'refund', $4, $5, $6, $7, $8, $9, now(), $10, 'pending')
     ON CONFLICT (tenant, reference) DO NOTHING RETURNING id`,
    [
      id,
      r.tenant,
      p.accountId,
      r.amountNano.toString(),
      p.currency,
      p.method,
      r.reference,
      r.requestHash,
      `payment:${r.reference}`,
      p.id,
    ],
  );
  if (ins.rowCount === 0) return null;
  await c.query(`UPDATE ${schema}.payments SET refunded_nano = refunded_nano + $2 WHERE id = $1`, [
    p.id,
    r.amountNano.toString(),
  ]);
  return id;
}

/** Marks the row applied and records its event, once (a second call finds it applied). */
export async function markApplied(c: PoolClient, schema: string, p: PaymentRow): Promise<void> {
  const r = await c.query(
    `UPDATE ${schema}.payments SET status = 'applied', applied_at = now() WHERE id = $1 AND status = 'pending'`,
    [p.id],
  );
  if (r.rowCount === 0) return;
  await appendEvent(c, schema, {
    tenant: p.tenant,
    type: p.kind === 'payment' ? 'payment.received' : 'payment.refunded',
    accountId: p.accountId,
    id: `${p.kind === 'payment' ? 'payment.received' : 'payment.refunded'}:${p.id}`,
    payload: {
      paymentId: p.id,
      reference: p.reference,
      amountNano: p.amountNano.toString(),
      currency: p.currency,
      ...(p.refundOf ? { refundOf: p.refundOf } : {}),
    },
  });
}
