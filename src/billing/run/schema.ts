/**
 * The run's tables (billing.md E.2): bill periods per account, runs and their per-account journal.
 * usage_adjustments is created with the billable tables it belongs to (adjustments.ts).
 */
import type { Pool } from 'pg';
import { ensureAdjustmentsTable } from './adjustments.js';

export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

export async function ensureRunSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await ensureAdjustmentsTable(pool, s);
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${s}.bill_periods (
  tenant text NOT NULL, account_id text NOT NULL, seq int NOT NULL,
  period_start timestamptz NOT NULL, period_end timestamptz NOT NULL, grace_until timestamptz NULL,
  cutoff_at timestamptz NULL,
  status text NOT NULL CHECK (status IN ('open','closed','drafted','finalized','skipped')),
  invoice_id uuid NULL, skip_reason text NULL,
  PRIMARY KEY (tenant, account_id, seq));
CREATE INDEX IF NOT EXISTS bill_periods_due ON ${s}.bill_periods (tenant, status, period_end)
  WHERE status IN ('open','closed','drafted');
CREATE TABLE IF NOT EXISTS ${s}.billing_runs (
  id uuid PRIMARY KEY, tenant text NOT NULL, as_of timestamptz NOT NULL, requested_by text NOT NULL,
  scope jsonb NOT NULL DEFAULT '{}', dry_run bool NOT NULL DEFAULT false,
  status text NOT NULL CHECK (status IN ('running','done','failed','cancelled')),
  counters jsonb NOT NULL DEFAULT '{}', error text NULL,
  started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz NULL);
CREATE UNIQUE INDEX IF NOT EXISTS billing_runs_as_of ON ${s}.billing_runs (tenant, as_of) WHERE NOT dry_run;
CREATE TABLE IF NOT EXISTS ${s}.billing_run_items (
  run_id uuid NOT NULL, tenant text NOT NULL, account_id text NOT NULL, step text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('invoiced','skipped','parked')), code text NULL, message text NULL,
  invoice_id uuid NULL, PRIMARY KEY (run_id, account_id));`);
}
