/**
 * The document tables (issue 13, E.2): invoice series, invoices and their lines, credit notes and
 * their lines, the audit trail, the events written with each fact, and the replies remembered per
 * caller reference. Triggers keep finalized documents as they were issued, even against SQL typed
 * by hand: only the status, the amounts still due or credited and the PDF may change.
 */
import type { Pool } from 'pg';

const tables = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.invoice_series (
  tenant text NOT NULL, code text NOT NULL,
  document_type text NOT NULL CHECK (document_type IN ('invoice','credit_note','statement')),
  prefix text NOT NULL, padding smallint NOT NULL, reset text NOT NULL CHECK (reset IN ('never','yearly')),
  year smallint NULL, next_number bigint NOT NULL, used bool NOT NULL DEFAULT false,
  last_hash text NULL, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, code));
CREATE TABLE IF NOT EXISTS ${s}.invoices (
  id uuid PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL, bill_seq int NULL,
  document_type text NOT NULL CHECK (document_type IN ('invoice','statement')),
  status text NOT NULL CHECK (status IN ('draft','finalized','paid','void')),
  series text NOT NULL, number text NULL, issue_date date NULL, due_date date NULL,
  timezone text NOT NULL, payment_terms_days smallint NOT NULL,
  period_start timestamptz NOT NULL, period_end timestamptz NOT NULL, cutoff_at timestamptz NOT NULL,
  currency char(3) NOT NULL, subtotal_nano bigint NOT NULL, discount_nano bigint NOT NULL,
  tax_nano bigint NOT NULL, total_nano bigint NOT NULL, amount_due_nano bigint NOT NULL,
  credited_nano bigint NOT NULL DEFAULT 0, seller jsonb NOT NULL, buyer jsonb NOT NULL,
  tax_summary jsonb NOT NULL, canonical_json jsonb NULL, document_hash text NULL, prev_hash text NULL,
  pdf_status text NOT NULL DEFAULT 'none' CHECK (pdf_status IN ('none','pending','rendered','failed')),
  pdf bytea NULL, pdf_attempts int NOT NULL DEFAULT 0, needs_review text NULL,
  created_at timestamptz NOT NULL DEFAULT now(), finalized_at timestamptz NULL, voided_at timestamptz NULL,
  UNIQUE (tenant, account_id, bill_seq), UNIQUE (tenant, series, number));
CREATE INDEX IF NOT EXISTS invoices_list ON ${s}.invoices (tenant, created_at, id);
DROP INDEX IF EXISTS ${s}.invoices_pdf_pending;
CREATE INDEX IF NOT EXISTS invoices_pdf_queue ON ${s}.invoices (id) WHERE pdf_status = 'pending';
CREATE TABLE IF NOT EXISTS ${s}.invoice_lines (
  invoice_id uuid NOT NULL, seq int NOT NULL,
  kind text NOT NULL CHECK (kind IN ('fee','setup','proration','usage','usage_included','one_off',
    'discount','adjustment','late_usage','rounding')),
  description text NOT NULL, period_start timestamptz NULL, period_end timestamptz NULL,
  quantity numeric NULL, unit text NULL, amount_nano bigint NOT NULL, exact_nano numeric NOT NULL,
  tax_code text NULL, tax_rate numeric(9,6) NULL, tax_nano bigint NOT NULL, source jsonb NULL,
  PRIMARY KEY (invoice_id, seq));
CREATE TABLE IF NOT EXISTS ${s}.credit_notes (
  id uuid PRIMARY KEY, tenant text NOT NULL, invoice_id uuid NOT NULL REFERENCES ${s}.invoices (id),
  series text NOT NULL, number text NOT NULL, issue_date date NOT NULL, reason text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('partial','cancellation')),
  subtotal_nano bigint NOT NULL, tax_nano bigint NOT NULL, total_nano bigint NOT NULL,
  effect text NOT NULL CHECK (effect IN ('reduce_due','account_credit','refund_record')),
  canonical_json jsonb NOT NULL, document_hash text NOT NULL, prev_hash text NULL,
  pdf_status text NOT NULL DEFAULT 'pending' CHECK (pdf_status IN ('none','pending','rendered','failed')),
  pdf bytea NULL, pdf_attempts int NOT NULL DEFAULT 0, reference text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, series, number), UNIQUE (tenant, reference));
CREATE INDEX IF NOT EXISTS credit_notes_invoice ON ${s}.credit_notes (invoice_id);
CREATE INDEX IF NOT EXISTS credit_notes_pdf_queue ON ${s}.credit_notes (id) WHERE pdf_status = 'pending';
CREATE TABLE IF NOT EXISTS ${s}.credit_note_lines (
  credit_note_id uuid NOT NULL REFERENCES ${s}.credit_notes (id), seq int NOT NULL,
  invoice_line_seq int NOT NULL, amount_nano bigint NOT NULL, tax_nano bigint NOT NULL,
  PRIMARY KEY (credit_note_id, seq));
CREATE TABLE IF NOT EXISTS ${s}.invoice_audit (
  id bigserial PRIMARY KEY, tenant text NOT NULL, document_id uuid NOT NULL, action text NOT NULL,
  actor text NOT NULL, at timestamptz NOT NULL DEFAULT now(), detail jsonb NULL);
CREATE INDEX IF NOT EXISTS invoice_audit_document ON ${s}.invoice_audit (document_id);
CREATE TABLE IF NOT EXISTS ${s}.events (
  id text PRIMARY KEY, tenant text NOT NULL, type text NOT NULL, account_id text NULL,
  sequence bigint NULL, occurred_at timestamptz NOT NULL, payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS ${s}.document_requests (
  tenant text NOT NULL, reference text NOT NULL, request_hash text NOT NULL, status smallint NOT NULL,
  answer jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, reference));`;

/**
 * Columns of an issued document that may still change: its status (paid, void), what is still due
 * or credited, and its PDF. Everything else is the document as issued.
 */
const MUTABLE = `'{status,amount_due_nano,credited_nano,pdf_status,pdf,pdf_attempts,voided_at}'::text[]`;

// Row triggers on the documents fire only for issued ones (a WHEN clause, no function call for a
// draft, so finalizing 100k drafts pays nothing); the lines are checked once per statement against
// their invoices (transition tables), not once per line.
const triggers = (s: string) => `
CREATE OR REPLACE FUNCTION ${s}.issued_document_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'DOCUMENT_IMMUTABLE: % % is issued and cannot be deleted', TG_TABLE_NAME, OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF to_jsonb(NEW)->>'status' = 'draft' OR (to_jsonb(NEW) - ${MUTABLE}) IS DISTINCT FROM (to_jsonb(OLD) - ${MUTABLE}) THEN
    RAISE EXCEPTION 'DOCUMENT_IMMUTABLE: % % is issued: only its status, amounts due and PDF change', TG_TABLE_NAME, OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION ${s}.issued_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An invoice issued at once (issue.ts) gets its lines in the transaction that creates it: the row
  -- is this transaction's own (xmin) and was created now (an issued invoice merely updated here keeps
  -- its created_at, which the row guard above never lets change). Any other issued invoice: refused.
  IF EXISTS (SELECT 1 FROM changed c JOIN ${s}.invoices i ON i.id = c.invoice_id WHERE i.status <> 'draft'
              AND NOT (TG_OP = 'INSERT' AND i.created_at = now()
                       AND i.xmin::text = (pg_current_xact_id()::text::numeric % 4294967296)::text)) THEN
    RAISE EXCEPTION 'DOCUMENT_IMMUTABLE: the lines of an issued invoice do not change'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  -- The lines' reference to their invoice, checked once per statement (a foreign key checked and
  -- locked each line's invoice row one by one: a third of the time of writing a run's lines).
  IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM changed c LEFT JOIN ${s}.invoices i ON i.id = c.invoice_id
                                    WHERE i.id IS NULL) THEN
    RAISE EXCEPTION 'a line names an invoice that does not exist' USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- a separate statement: changed_to exists only for updates (a line moved to an issued invoice)
  IF TG_OP = 'UPDATE' THEN
    IF EXISTS (SELECT 1 FROM changed_to c LEFT JOIN ${s}.invoices i ON i.id = c.invoice_id WHERE i.id IS NULL) THEN
      RAISE EXCEPTION 'a line names an invoice that does not exist' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM changed_to c JOIN ${s}.invoices i ON i.id = c.invoice_id WHERE i.status <> 'draft') THEN
      RAISE EXCEPTION 'DOCUMENT_IMMUTABLE: the lines of an issued invoice do not change'
        USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  RETURN NULL;
END $$;
-- What ON DELETE CASCADE did: a deleted invoice (a draft: the row guard refuses any other) takes its lines.
CREATE OR REPLACE FUNCTION ${s}.invoice_lines_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ${s}.invoice_lines l USING gone g WHERE l.invoice_id = g.id;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION ${s}.append_only_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'APPEND_ONLY: % keeps every row as written', TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE OR REPLACE TRIGGER invoices_issued BEFORE UPDATE OR DELETE ON ${s}.invoices
  FOR EACH ROW WHEN (OLD.status <> 'draft') EXECUTE FUNCTION ${s}.issued_document_guard();
CREATE OR REPLACE TRIGGER invoices_deleted AFTER DELETE ON ${s}.invoices
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION ${s}.invoice_lines_cascade();
CREATE OR REPLACE TRIGGER credit_notes_issued BEFORE UPDATE OR DELETE ON ${s}.credit_notes
  FOR EACH ROW EXECUTE FUNCTION ${s}.issued_document_guard();
CREATE OR REPLACE TRIGGER invoice_lines_inserted AFTER INSERT ON ${s}.invoice_lines
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ${s}.issued_lines_guard();
CREATE OR REPLACE TRIGGER invoice_lines_updated AFTER UPDATE ON ${s}.invoice_lines
  REFERENCING OLD TABLE AS changed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION ${s}.issued_lines_guard();
CREATE OR REPLACE TRIGGER invoice_lines_deleted AFTER DELETE ON ${s}.invoice_lines
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ${s}.issued_lines_guard();
CREATE OR REPLACE TRIGGER credit_note_lines_issued BEFORE UPDATE OR DELETE ON ${s}.credit_note_lines
  FOR EACH ROW EXECUTE FUNCTION ${s}.append_only_guard();
CREATE OR REPLACE TRIGGER invoice_audit_append_only BEFORE UPDATE OR DELETE ON ${s}.invoice_audit
  FOR EACH ROW EXECUTE FUNCTION ${s}.append_only_guard();`;

/** Schemas made before the lines' reference was checked per statement lose the per-line foreign key. */
const dropLinesForeignKey = (s: string) => `
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'invoice_lines_invoice_id_fkey'
              AND conrelid = '${s}.invoice_lines'::regclass) THEN
    ALTER TABLE ${s}.invoice_lines DROP CONSTRAINT invoice_lines_invoice_id_fkey;
  END IF;
END $$;`;

/** Called by ensureEngineSchema (src/storage/schema.ts), under its lock. */
export async function ensureDocumentsSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(tables(schema));
  await pool.query(triggers(schema));
  await pool.query(dropLinesForeignKey(schema));
}
