/**
 * The payment tables (issue 14, F.2), created and upgraded idempotently. A payment row is written
 * `pending` with its allocations in one transaction, then the money is credited in Redis under
 * `payment:{reference}`, then the row is `applied` (repair.ts finishes a row left pending by a crash).
 * `unapplied_nano` is what the payment left over when recorded; `refunded_nano` what refunds took back.
 */
import type { Pool } from 'pg';

export async function ensurePaymentsSchema(pool: Pool, schema: string): Promise<void> {
  const s = schema;
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${s}.payments (
  id uuid PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('payment','refund')),
  amount_nano bigint NOT NULL CHECK (amount_nano > 0), currency char(3) NOT NULL,
  method text NOT NULL, reference text NOT NULL, request_hash text NOT NULL, op_id text NOT NULL,
  received_at timestamptz NOT NULL, refund_of uuid NULL REFERENCES ${s}.payments (id),
  unapplied_nano bigint NOT NULL DEFAULT 0, refunded_nano bigint NOT NULL DEFAULT 0,
  status text NOT NULL CHECK (status IN ('pending','applied')),
  created_at timestamptz NOT NULL DEFAULT now(), applied_at timestamptz NULL,
  UNIQUE (tenant, reference), CHECK (refunded_nano <= unapplied_nano));
CREATE INDEX IF NOT EXISTS payments_account ON ${s}.payments (tenant, account_id, created_at, id);
CREATE INDEX IF NOT EXISTS payments_pending ON ${s}.payments (created_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS ${s}.payment_allocations (
  payment_id uuid NOT NULL REFERENCES ${s}.payments (id), invoice_id uuid NOT NULL,
  amount_nano bigint NOT NULL CHECK (amount_nano > 0), allocated_at timestamptz NOT NULL DEFAULT now(),
  position bigserial, -- the order the payment paid them in (one transaction shares now())
  PRIMARY KEY (payment_id, invoice_id));
CREATE INDEX IF NOT EXISTS payment_allocations_invoice ON ${s}.payment_allocations (invoice_id);`);
}
