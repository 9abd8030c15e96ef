/** Reading voucher batches and answering them as the API shows them (never a PIN, never the seed). */
import type { Pool, PoolClient } from 'pg';
import { formatMoney } from '../billing/core/currency.js';
import { serialOf } from './pins.js';

export interface BatchRow {
  id: string;
  tenant: string;
  reference: string;
  request_hash: string;
  serial_prefix: string;
  count: number;
  amount_nano: string | null;
  currency: string | null;
  plan_code: string | null;
  plan_version: number | null;
  valid_from: Date;
  expires_at: Date;
  status: 'generating' | 'active' | 'blocked';
  pin_seed: Buffer | null;
  pins_downloaded_at: Date | null;
  created_at: Date;
}

export type VoucherValue =
  { type: 'money'; amountNano: bigint; currency: string } | { type: 'plan'; plan: string; version: number };

export function valueOf(
  r: Pick<BatchRow, 'amount_nano' | 'currency' | 'plan_code' | 'plan_version'>,
): VoucherValue {
  return r.plan_code !== null
    ? { type: 'plan', plan: r.plan_code, version: r.plan_version! }
    : { type: 'money', amountNano: BigInt(r.amount_nano!), currency: r.currency! };
}

export function presentValue(v: VoucherValue) {
  return v.type === 'money'
    ? { type: v.type, amount: formatMoney(v.amountNano, v.currency), currency: v.currency }
    : v;
}

type Db = Pool | PoolClient;

export async function batchById(
  db: Db,
  schema: string,
  tenant: string,
  id: string,
  lock: boolean | 'skip' = false,
) {
  const forUpdate = lock === 'skip' ? ' FOR UPDATE SKIP LOCKED' : lock ? ' FOR UPDATE' : '';
  const r = await db.query<BatchRow>(
    `SELECT * FROM ${schema}.voucher_batches WHERE tenant = $1 AND id = $2${forUpdate}`,
    [tenant, id],
  );
  return r.rows[0];
}

export async function batchByReference(db: Db, schema: string, tenant: string, reference: string) {
  const r = await db.query<BatchRow>(
    `SELECT * FROM ${schema}.voucher_batches WHERE tenant = $1 AND reference = $2`,
    [tenant, reference],
  );
  return r.rows[0];
}

/** How many of the batch's vouchers are in each status (only moved rows are indexed by batch). */
async function statusCounts(db: Db, schema: string, b: BatchRow) {
  const r = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM ${schema}.vouchers WHERE batch_id = $1 AND status <> 'active'
      GROUP BY status`,
    [b.id],
  );
  const counts: Record<string, number> = { redeeming: 0, redeemed: 0, blocked: 0 };
  for (const x of r.rows) counts[x.status] = Number(x.n);
  const moved = counts.redeeming! + counts.redeemed! + counts.blocked!;
  return { active: b.status === 'generating' ? 0 : b.count - moved, ...counts };
}

export async function presentBatch(db: Db, schema: string, b: BatchRow) {
  return {
    batchId: b.id,
    reference: b.reference,
    status: b.status,
    count: b.count,
    serials: { first: serialOf(b.serial_prefix, 0), last: serialOf(b.serial_prefix, b.count - 1) },
    value: presentValue(valueOf(b)),
    validFrom: b.valid_from.toISOString(),
    expiresAt: b.expires_at.toISOString(),
    pinsDownloadedAt: b.pins_downloaded_at?.toISOString() ?? null,
    vouchers: await statusCounts(db, schema, b),
    createdAt: b.created_at.toISOString(),
  };
}
