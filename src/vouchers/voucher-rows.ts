/**
 * The voucher row's steps in PostgreSQL: claim (one winner: the row lock makes a second claimer
 * re-read the row and find it taken) — a money voucher straight to `redeemed` with its event, else
 * `active` → `redeeming` —, release (a refused plan assignment puts it back), redeemed (with its
 * `voucher.redeemed` event, one statement), delivered (the credit landed), and the reads. Each step
 * is one statement: one round trip and one commit.
 */
import type { Pool, PoolClient } from 'pg';
import { insertEventsSql } from '../webhooks/append.js';
import type { BatchRow } from './batch-rows.js';

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
  /** Redeemed (a money voucher) but its credit not yet known to have landed. */
  value_pending: boolean;
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
  /**
   * The account's money balance, when it has one: a money voucher is then redeemed by the claim
   * itself (`redeemed`, value_pending, its event in the same statement); without it, and for a plan,
   * the claim only takes the voucher (`redeeming`) and markRedeemed finishes.
   */
  balanceId?: string | undefined;
}

/** Whether a claim redeems at once: a money voucher on an account with a money balance. */
const AT_ONCE = `(b.plan_code IS NULL AND c.balance_id IS NOT NULL)`;

/**
 * Claims the redeemable voucher of each PIN for its account, all in one statement (one round trip,
 * one commit); answers, in the order given, the claimed row or undefined where there is none. The
 * row lock decides between two claimers: the second re-reads the row, finds it no longer `active`,
 * and claims nothing — in two statements, or within one (a row is updated once, by one of the claims
 * naming it). A reference taken twice fails the whole statement (23505), which then changed nothing.
 */
export async function claimMany(db: Db, schema: string, claims: Claim[]) {
  const claimed = `UPDATE ${schema}.vouchers v SET status = CASE WHEN ${AT_ONCE} THEN 'redeemed' ELSE 'redeeming' END,
         account_id = c.account_id, reference = c.reference, claimed_at = now(),
         redeemed_at = CASE WHEN ${AT_ONCE} THEN now() END, value_pending = ${AT_ONCE}
       FROM ${schema}.voucher_batches b,
            unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
              WITH ORDINALITY AS c(pin_hash, tenant, account_id, reference, at, currency, balance_id, n)
      WHERE v.pin_hash = c.pin_hash AND v.tenant = c.tenant AND v.status = 'active' AND b.id = v.batch_id
        AND b.status = 'active' AND b.valid_from <= c.at AND b.expires_at > c.at
        AND (b.currency IS NULL OR b.currency = c.currency)
      RETURNING c.n AS claim_n, c.balance_id AS claim_balance_id, v.*, b.amount_nano, b.currency,
        b.plan_code, b.plan_version, b.valid_from, b.expires_at, b.status AS batch_status, b.value_json`;
  const event = insertEventsSql(
    schema,
    `SELECT 'voucher.redeemed:' || tenant || ':' || serial, tenant, 'voucher.redeemed', account_id, redeemed_at,
            ${REDEEMED_PAYLOAD('value_json', "jsonb_build_object('balanceId', claim_balance_id)")}
       FROM claimed WHERE status = 'redeemed' ORDER BY claim_n`,
  );
  type Claimed = VoucherWithValue & { claim_n?: string; claim_balance_id?: unknown; value_json?: unknown };
  const r = await db.query<Claimed>({
    // Named: PostgreSQL plans it once per connection (the claim is the hot path of a redemption).
    name: `voucher-claims:${schema}`,
    text: `WITH claimed AS (${claimed}), event AS (${event}) SELECT * FROM claimed`,
    values: [
      claims.map((c) => c.hash),
      claims.map((c) => c.tenant),
      claims.map((c) => c.accountId),
      claims.map((c) => c.reference),
      claims.map((c) => c.at),
      claims.map((c) => c.currency),
      claims.map((c) => c.balanceId ?? null),
    ],
  });
  const won: (VoucherWithValue | undefined)[] = claims.map(() => undefined);
  for (const row of r.rows) {
    const n = Number(row.claim_n) - 1;
    delete row.claim_n;
    delete row.claim_balance_id;
    delete row.value_json;
    won[n] = row;
  }
  return won;
}

/**
 * The `voucher.redeemed` payload from a row of `claimed` (SQL, so the claim's statement and
 * markRedeemed write the same): serial, batch, value as shown, reference, and `extra`'s keys.
 */
const REDEEMED_PAYLOAD = (value: string, extra: string) =>
  `jsonb_build_object('serial', serial, 'batchId', batch_id, 'value', ${value}, 'reference', reference) || ${extra}`;

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
  const r = await pool.query<{ redeemed_at: Date }>(
    `WITH claimed AS (
       UPDATE ${schema}.vouchers v SET status = 'redeemed', redeemed_at = now(), value_pending = false
         FROM ${schema}.voucher_batches b
        WHERE v.tenant = $1 AND v.serial = $2 AND v.status = 'redeeming' AND b.id = v.batch_id
       RETURNING v.*, b.value_json),
     event AS (${insertEventsSql(
       schema,
       `SELECT 'voucher.redeemed:' || tenant || ':' || serial, tenant, 'voucher.redeemed', account_id, redeemed_at,
               ${REDEEMED_PAYLOAD('value_json', '$3::jsonb')} FROM claimed`,
     )})
     SELECT redeemed_at FROM claimed`,
    [v.tenant, v.serial, JSON.stringify(extra)],
  );
  if (r.rowCount === 0) return (await voucherBySerial(pool, schema, v.tenant, v.serial))!;
  return { ...v, status: 'redeemed', value_pending: false, redeemed_at: r.rows[0]!.redeemed_at };
}

/** The credits of these redeemed money vouchers have landed: nothing left for the repair. */
export async function markDelivered(db: Db, schema: string, tenant: string[], serial: string[]) {
  await db.query(
    `UPDATE ${schema}.vouchers v SET value_pending = false FROM unnest($1::text[], $2::text[]) AS d(tenant, serial)
      WHERE v.tenant = d.tenant AND v.serial = d.serial AND v.value_pending`,
    [tenant, serial],
  );
}

/**
 * Rows claimed longer than `olderThanMs` ago and not finished: a crash left them between the claim
 * and the credit (a redemption in flight is younger; finishing it too would be safe, only wasted):
 * `redeeming`, or redeemed with the credit not known to have landed.
 */
export async function redeemingRows(pool: Pool, schema: string, limit: number, olderThanMs: number) {
  const r = await pool.query<VoucherWithValue>(
    `${JOINED(schema)} WHERE (v.status = 'redeeming' OR v.value_pending)
        AND v.claimed_at < now() - make_interval(secs => $2)
      ORDER BY v.claimed_at LIMIT $1`,
    [limit, olderThanMs / 1000],
  );
  return r.rows;
}
