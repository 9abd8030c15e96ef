/**
 * The tables of plans, billing profiles, assignments, charges, taxes and coupons (issue 13, E.2),
 * created idempotently. `events` is the documents' table (src/billing/documents/schema.ts, the same
 * definition): created here too when absent, so renewals can record `plan.renewal_failed` on a
 * schema where documents were never set up.
 */
import type { Pool } from 'pg';

export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

const tables = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.billing_entities (
  tenant text PRIMARY KEY, legal_name text NOT NULL, address jsonb NOT NULL DEFAULT '[]', country text NULL,
  tax_id text NULL, default_timezone text NOT NULL DEFAULT 'UTC', default_tax_profile text NULL,
  rounding_mode text NOT NULL DEFAULT 'per_rate' CHECK (rounding_mode IN ('per_rate','per_line')),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ${s}.billing_accounts (
  tenant text NOT NULL, account_id text NOT NULL, account_type text NOT NULL, currency char(3) NOT NULL,
  timezone text NOT NULL, bill_cycle_day smallint NOT NULL CHECK (bill_cycle_day BETWEEN 1 AND 31),
  invoice_mode text NOT NULL CHECK (invoice_mode IN ('invoice','statement','none')), tax_profile text NULL,
  payment_terms_days smallint NOT NULL DEFAULT 14, series text NULL, grace_hours smallint NOT NULL DEFAULT 24,
  auto_finalize bool NOT NULL DEFAULT true, buyer jsonb NOT NULL DEFAULT '{}', exempt_reason text NULL,
  reverse_charge bool NOT NULL DEFAULT false, parked_code text NULL, parked_message text NULL,
  parked_at timestamptz NULL, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, account_id));
CREATE TABLE IF NOT EXISTS ${s}.plans (
  tenant text NOT NULL, code text NOT NULL, version int NOT NULL, body jsonb NOT NULL, body_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), in_use bool NOT NULL DEFAULT false,
  PRIMARY KEY (tenant, code, version));
CREATE TABLE IF NOT EXISTS ${s}.account_plans (
  id uuid PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL, seq int NOT NULL,
  plan_code text NOT NULL, plan_version int NOT NULL, quantity int NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  status text NOT NULL CHECK (status IN ('active','unpaid','cancelled','ended')),
  start_at timestamptz NOT NULL, end_at timestamptz NULL, current_period_start timestamptz NOT NULL,
  current_period_end timestamptz NOT NULL, anchor_day smallint NOT NULL, periods_renewed int NOT NULL DEFAULT 0,
  unpaid_since timestamptz NULL, coupon_codes text[] NOT NULL DEFAULT '{}', reference text NOT NULL,
  next_plan_code text NULL, next_plan_version int NULL, next_quantity int NULL,
  change_reference text NULL, change_hash text NULL,
  request_hash text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, reference), UNIQUE (tenant, account_id, seq));
CREATE INDEX IF NOT EXISTS account_plans_due ON ${s}.account_plans (tenant, current_period_end)
  WHERE status IN ('active','unpaid');
CREATE TABLE IF NOT EXISTS ${s}.plan_intents (
  tenant text NOT NULL, subject text NOT NULL, reference text NOT NULL, request_hash text NOT NULL,
  at timestamptz NOT NULL, PRIMARY KEY (tenant, subject, reference));
CREATE TABLE IF NOT EXISTS ${s}.charges (
  id bigserial PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL, op_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('fee','setup','one_off','proration','discount','adjustment')),
  description text NOT NULL, quantity numeric NULL, amount_nano bigint NOT NULL, currency char(3) NOT NULL,
  tax_code text NULL, event_time timestamptz NOT NULL, service_start timestamptz NULL,
  service_end timestamptz NULL, account_plan_id uuid NULL,
  status text NOT NULL CHECK (status IN ('pending','applied','failed')), failure_code text NULL,
  stored_at timestamptz NULL, UNIQUE (tenant, op_id));
CREATE TABLE IF NOT EXISTS ${s}.coupons (
  tenant text NOT NULL, code text NOT NULL, body jsonb NOT NULL, redemptions int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, code));
CREATE TABLE IF NOT EXISTS ${s}.coupon_redemptions (
  tenant text NOT NULL, code text NOT NULL, account_id text NOT NULL, periods_left int NULL,
  redeemed_at timestamptz NOT NULL DEFAULT clock_timestamp(), reference text NOT NULL,
  request_hash text NOT NULL, PRIMARY KEY (tenant, code, account_id), UNIQUE (tenant, reference));
CREATE TABLE IF NOT EXISTS ${s}.taxes (
  tenant text NOT NULL, code text NOT NULL, valid_from date NOT NULL, rate numeric(9,6) NOT NULL,
  valid_to date NULL, category text NOT NULL DEFAULT 'standard', legal_text text NULL,
  PRIMARY KEY (tenant, code, valid_from), CHECK (valid_to IS NULL OR valid_to > valid_from));
CREATE TABLE IF NOT EXISTS ${s}.tax_profiles (
  tenant text NOT NULL, code text NOT NULL, mapping jsonb NOT NULL, inclusive bool NOT NULL DEFAULT false,
  PRIMARY KEY (tenant, code));
CREATE TABLE IF NOT EXISTS ${s}.events (
  id text PRIMARY KEY, tenant text NOT NULL, type text NOT NULL, account_id text NULL,
  sequence bigint NULL, occurred_at timestamptz NOT NULL, payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());`;

export async function ensurePlansSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(tables(s));
  // Plan changes (PATCH) came after the first version of the table.
  await pool.query(`ALTER TABLE ${s}.account_plans ADD COLUMN IF NOT EXISTS next_plan_code text NULL,
    ADD COLUMN IF NOT EXISTS next_plan_version int NULL, ADD COLUMN IF NOT EXISTS next_quantity int NULL,
    ADD COLUMN IF NOT EXISTS change_reference text NULL, ADD COLUMN IF NOT EXISTS change_hash text NULL`);
}
