/**
 * Reading payments back: one row, an account's list, and the answer the API gives for one (the same
 * on a replay of its reference).
 */
import type { Pool, PoolClient } from 'pg';
import { formatMoney } from '../billing/core/currency.js';

export interface PaymentRow {
  id: string;
  tenant: string;
  accountId: string;
  kind: 'payment' | 'refund';
  amountNano: bigint;
  currency: string;
  method: string;
  reference: string;
  requestHash: string;
  opId: string;
  receivedAt: Date;
  refundOf: string | null;
  unappliedNano: bigint;
  refundedNano: bigint;
  status: 'pending' | 'applied';
  createdAt: Date;
}

const COLUMNS = `id, tenant, account_id, kind, amount_nano::text, currency, method, reference, request_hash,
  op_id, received_at, refund_of, unapplied_nano::text, refunded_nano::text, status, created_at`;

type Raw = Record<string, unknown> & { amount_nano: string; unapplied_nano: string; refunded_nano: string };

function fromRaw(r: Raw): PaymentRow {
  return {
    id: r.id as string,
    tenant: r.tenant as string,
    accountId: r.account_id as string,
    kind: r.kind as PaymentRow['kind'],
    amountNano: BigInt(r.amount_nano),
    currency: r.currency as string,
    method: r.method as string,
    reference: r.reference as string,
    requestHash: r.request_hash as string,
    opId: r.op_id as string,
    receivedAt: r.received_at as Date,
    refundOf: (r.refund_of as string | null) ?? null,
    unappliedNano: BigInt(r.unapplied_nano),
    refundedNano: BigInt(r.refunded_nano),
    status: r.status as PaymentRow['status'],
    createdAt: r.created_at as Date,
  };
}

type Db = Pool | PoolClient;

export async function paymentByReference(db: Db, schema: string, tenant: string, reference: string) {
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM ${schema}.payments WHERE tenant = $1 AND reference = $2`,
    [tenant, reference],
  );
  return r.rows[0] ? fromRaw(r.rows[0]) : null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function paymentById(db: Db, schema: string, tenant: string, id: string, lock = false) {
  if (!UUID_RE.test(id)) return null;
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM ${schema}.payments WHERE tenant = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
    [tenant, id],
  );
  return r.rows[0] ? fromRaw(r.rows[0]) : null;
}

export async function pendingPayments(db: Db, schema: string, limit: number): Promise<PaymentRow[]> {
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM ${schema}.payments WHERE status = 'pending' ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return r.rows.map(fromRaw);
}

export async function accountPayments(
  db: Db,
  schema: string,
  tenant: string,
  accountId: string,
  limit: number,
) {
  const r = await db.query<Raw>(
    `SELECT ${COLUMNS} FROM ${schema}.payments WHERE tenant = $1 AND account_id = $2
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [tenant, accountId, limit],
  );
  return r.rows.map(fromRaw);
}

async function allocationsOf(db: Db, schema: string, ids: string[]) {
  const r = await db.query<{ payment_id: string; invoice_id: string; amount_nano: string }>(
    `SELECT payment_id, invoice_id, amount_nano::text FROM ${schema}.payment_allocations
      WHERE payment_id = ANY($1::uuid[]) ORDER BY position`,
    [ids],
  );
  return r.rows;
}

/** The API's view of payments (with their allocations), in the order given. */
export async function present(db: Db, schema: string, rows: PaymentRow[]) {
  const allocs = await allocationsOf(
    db,
    schema,
    rows.map((p) => p.id),
  );
  return rows.map((p) => ({
    id: p.id,
    accountId: p.accountId,
    kind: p.kind,
    amount: formatMoney(p.amountNano, p.currency),
    currency: p.currency,
    method: p.method,
    reference: p.reference,
    receivedAt: p.receivedAt.toISOString(),
    status: p.status,
    ...(p.refundOf ? { refundOf: p.refundOf } : {}),
    ...(p.kind === 'payment'
      ? {
          unapplied: formatMoney(p.unappliedNano, p.currency),
          refunded: formatMoney(p.refundedNano, p.currency),
          allocations: allocs
            .filter((a) => a.payment_id === p.id)
            .map((a) => ({
              invoiceId: a.invoice_id,
              amount: formatMoney(BigInt(a.amount_nano), p.currency),
            })),
        }
      : {}),
    createdAt: p.createdAt.toISOString(),
  }));
}
