/**
 * The voucher row's steps in PostgreSQL: claim (`active` → `redeeming`, one winner: the row lock
 * makes a second claimer re-read the row and find it taken), release (a refused plan assignment puts
 * it back), redeemed (with its `voucher.redeemed` event, in one transaction), and the reads.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../billing/documents/transaction.js';
import { appendEvent } from '../webhooks/append.js';
import { presentValue, valueOf, type BatchRow } from './batch-rows.js';

export interface VoucherRow {
  tenant: string;
  serial: string;
  batch_id: string;
  pin_hash: Buffer;
  status: 'active' | 'redeeming' | 'redeemed' | 'blocked';
  account_id: string | null;
  reference: string | null;
  claimed_at: Date | null;
  redeemed_at: Date | null;
}

/** A voucher with its batch's value and window. */
export type VoucherWithValue = VoucherRow &
  Pick<BatchRow, 'amount_nano' | 'currency' | 'plan_code' | 'plan_version' | 'valid_from' | 'expires_at'> & {
    batch_status: BatchRow['status'];
  };

const JOINED = (schema: string) => `SELECT v.*, b.amount_nano, b.currency, b.plan_code, b.plan_version,
    b.valid_from, b.expires_at, b.status AS batch_status
  FROM ${schema}.vouchers v JOIN ${schema}.voucher_batches b ON b.id = v.batch_id`;

type Db = Pool | PoolClient;

export async function voucherBySerial(db: Db, schema: string, tenant: string, serial: string) {
  const r = await db.query<VoucherWithValue>(`${JOINED(schema)} WHERE v.tenant = $1 AND v.serial = $2`, [
    tenant,
    serial,
  ]);
  return r.rows[0];
}

export async function voucherByReference(
  db: Db,
  schema: string,
  tenant: string,
  accountId: string,
  reference: string,
) {
  const r = await db.query<VoucherWithValue>(
    `${JOINED(schema)} WHERE v.tenant = $1 AND v.account_id = $2 AND v.reference = $3`,
    [tenant, accountId, reference],
  );
  return r.rows[0];
}

/** The voucher of this PIN if this account already claimed it (a retry of its own redemption). */
export async function claimedBy(db: Db, schema: string, tenant: string, accountId: string, hash: Buffer) {
  const r = await db.query<VoucherWithValue>(
    `${JOINED(schema)} WHERE v.pin_hash = $1 AND v.tenant = $2 AND v.account_id = $3
        AND v.status IN ('redeeming','redeemed')`,
    [hash, tenant, accountId],
  );
  return r.rows[0];
}

export interface Claim {
  tenant: string;
  accountId: string;
  hash: Buffer;
  reference: string | null;
  at: Date;
  /** A money voucher redeems only on an account of its currency. */
  currency: string;
}

/** Claims the redeemable voucher of this PIN for the account; undefined when there is none. */
export async function claim(db: Db, schema: string, c: Claim) {
  const r = await db.query<VoucherWithValue>(
    `UPDATE ${schema}.vouchers v SET status = 'redeeming', account_id = $3, reference = $4, claimed_at = now()
       FROM ${schema}.voucher_batches b
      WHERE v.pin_hash = $1 AND v.tenant = $2 AND v.status = 'active' AND b.id = v.batch_id
        AND b.status = 'active' AND b.valid_from <= $5 AND b.expires_at > $5
        AND (b.currency IS NULL OR b.currency = $6)
      RETURNING v.*, b.amount_nano, b.currency, b.plan_code, b.plan_version, b.valid_from, b.expires_at,
        b.status AS batch_status`,
    [c.hash, c.tenant, c.accountId, c.reference, c.at, c.currency],
  );
  return r.rows[0];
}

export async function release(db: Db, schema: string, v: VoucherRow): Promise<void> {
  await db.query(
    `UPDATE ${schema}.vouchers SET status = 'active', account_id = NULL, reference = NULL, claimed_at = NULL
      WHERE tenant = $1 AND serial = $2 AND status = 'redeeming'`,
    [v.tenant, v.serial],
  );
}

/** Marks the claimed voucher redeemed and records its event, once; answers the row as it is now. */
export async function markRedeemed(
  pool: Pool,
  schema: string,
  v: VoucherWithValue,
  extra: object = {},
): Promise<VoucherWithValue> {
  return inTransaction(pool, async (c) => {
    const r = await c.query<{ redeemed_at: Date }>(
      `UPDATE ${schema}.vouchers SET status = 'redeemed', redeemed_at = now()
        WHERE tenant = $1 AND serial = $2 AND status = 'redeeming' RETURNING redeemed_at`,
      [v.tenant, v.serial],
    );
    if (r.rowCount === 0) return (await voucherBySerial(c, schema, v.tenant, v.serial))!;
    await appendEvent(c, schema, {
      tenant: v.tenant,
      type: 'voucher.redeemed',
      accountId: v.account_id!,
      id: `voucher.redeemed:${v.tenant}:${v.serial}`,
      payload: {
        serial: v.serial,
        batchId: v.batch_id,
        value: presentValue(valueOf(v)),
        reference: v.reference,
        ...extra,
      },
    });
    return { ...v, status: 'redeemed', redeemed_at: r.rows[0]!.redeemed_at };
  });
}

/**
 * Rows claimed longer than `olderThanMs` ago and not finished: a crash left them between the claim
 * and the credit (a redemption in flight is younger; finishing it too would be safe, only wasted).
 */
export async function redeemingRows(pool: Pool, schema: string, limit: number, olderThanMs: number) {
  const r = await pool.query<VoucherWithValue>(
    `${JOINED(schema)} WHERE v.status = 'redeeming' AND v.claimed_at < now() - make_interval(secs => $2)
      ORDER BY v.claimed_at LIMIT $1`,
    [limit, olderThanMs / 1000],
  );
  return r.rows;
}
