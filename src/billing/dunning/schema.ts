/**
 * The dunning tables (issue 14, F.2): each tenant's reminder offsets and suspension delay, the
 * reminders sent (one row per invoice and offset, so a reminder goes out once however often the
 * job runs, on however many engines), and the suspensions the job made, from intent to reactivation.
 */
import type { Pool } from 'pg';

function checked(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

const ddl = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.dunning_settings (
  tenant text PRIMARY KEY, reminder_days int[] NOT NULL, suspend_after_days int NULL,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ${s}.invoice_reminders (
  invoice_id uuid NOT NULL, offset_days int NOT NULL, tenant text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (invoice_id, offset_days));
CREATE TABLE IF NOT EXISTS ${s}.dunning_suspensions (
  id bigserial PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL, invoice_id uuid NOT NULL,
  state text NOT NULL CHECK (state IN ('suspending','suspended','reactivating','reactivated')),
  suspended_at timestamptz NOT NULL DEFAULT now(), reactivated_at timestamptz NULL);
CREATE UNIQUE INDEX IF NOT EXISTS dunning_suspensions_open ON ${s}.dunning_suspensions (tenant, account_id)
  WHERE state <> 'reactivated';
CREATE INDEX IF NOT EXISTS invoices_overdue ON ${s}.invoices (due_date)
  WHERE document_type = 'invoice' AND status = 'finalized' AND amount_due_nano > 0;`;

/** After the documents schema (it indexes the invoices). */
export async function ensureDunningSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(ddl(checked(schema)));
}
