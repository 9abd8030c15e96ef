/**
 * The voucher tables (issue 14; docs/VOUCHERS.md), created idempotently. A batch row holds the value,
 * the validity window and, until its PINs are downloaded once, the sealed seed they are drawn from
 * (pins.ts); a voucher row holds only the keyed hash of its PIN. A redemption moves a voucher
 * `active` → `redeeming` (claimed by one account, in PostgreSQL) → `redeemed` (after the Redis credit
 * or the plan assignment under `voucher:{serial}`); repair finishes rows a crash left `redeeming`.
 */
import type { Pool } from 'pg';
import { presentValue, valueOf, type BatchRow } from './batch-rows.js';

export async function ensureVouchersSchema(pool: Pool, schema: string): Promise<void> {
  const s = schema;
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${s}.voucher_batches (
  id uuid PRIMARY KEY, tenant text NOT NULL, reference text NOT NULL, request_hash text NOT NULL,
  serial_prefix text NOT NULL, count integer NOT NULL CHECK (count BETWEEN 1 AND 1000000),
  amount_nano bigint NULL CHECK (amount_nano > 0), currency char(3) NULL,
  plan_code text NULL, plan_version integer NULL,
  valid_from timestamptz NOT NULL, expires_at timestamptz NOT NULL CHECK (expires_at > valid_from),
  status text NOT NULL CHECK (status IN ('generating','active','blocked')),
  pin_seed bytea NULL, pins_downloaded_at timestamptz NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, reference), UNIQUE (tenant, serial_prefix),
  CHECK ((amount_nano IS NOT NULL AND currency IS NOT NULL AND plan_code IS NULL)
      OR (amount_nano IS NULL AND currency IS NULL AND plan_code IS NOT NULL)));
CREATE INDEX IF NOT EXISTS voucher_batches_generating ON ${s}.voucher_batches (created_at)
  WHERE status = 'generating';
-- The hash covers the tenant (keys.ts), so one unique index on it is unique per tenant too.
CREATE TABLE IF NOT EXISTS ${s}.vouchers (
  tenant text NOT NULL, serial text NOT NULL, batch_id uuid NOT NULL, pin_hash bytea NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','redeeming','redeemed','blocked')),
  account_id text NULL, reference text NULL, claimed_at timestamptz NULL, redeemed_at timestamptz NULL,
  PRIMARY KEY (tenant, serial), UNIQUE (pin_hash));
CREATE UNIQUE INDEX IF NOT EXISTS vouchers_reference ON ${s}.vouchers (tenant, account_id, reference)
  WHERE reference IS NOT NULL;
-- Only rows that left 'active' are indexed by batch: a generated batch's COPY adds nothing to it.
CREATE INDEX IF NOT EXISTS vouchers_batch_moved ON ${s}.vouchers (batch_id, status) WHERE status <> 'active';
CREATE INDEX IF NOT EXISTS vouchers_redeeming ON ${s}.vouchers (claimed_at) WHERE status = 'redeeming';
-- A money voucher is redeemed in the statement that claims it (redeem.ts); until its credit is known
-- to have landed it is value_pending (the repair credits it again, idempotently).
ALTER TABLE ${s}.vouchers ADD COLUMN IF NOT EXISTS value_pending boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS vouchers_value_pending ON ${s}.vouchers (claimed_at) WHERE value_pending;
-- The batch's value as events show it (batch-rows.ts presentValue), copied into the event that the
-- claiming statement writes: formatted once, in TypeScript.
ALTER TABLE ${s}.voucher_batches ADD COLUMN IF NOT EXISTS value_json jsonb NULL;`);
  await fillValueJson(pool, s);
}

/** Batches made before value_json was kept get it (a handful of rows: batches, not vouchers). */
async function fillValueJson(pool: Pool, s: string): Promise<void> {
  const r = await pool.query<BatchRow>(`SELECT * FROM ${s}.voucher_batches WHERE value_json IS NULL`);
  for (const b of r.rows)
    await pool.query(`UPDATE ${s}.voucher_batches SET value_json = $2 WHERE id = $1`, [
      b.id,
      JSON.stringify(presentValue(valueOf(b))),
    ]);
}
