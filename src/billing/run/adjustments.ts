/**
 * usage_adjustments: the difference rows that keep billable rows append-only (billing.md E.2). Money
 * already taken by a rated CDR or record is never changed in place; a rerate (`reason = 'rerate'`) or
 * a late session report replacing a stored record (`reason = 'late_report'`) writes the difference
 * here, stamped when it is stored, so it lands on the bill open at that time (E.1 membership rule).
 *
 * Created by every schema that writes into it (rated records, rated CDRs): tests and tools that
 * create only one of them still have it.
 */
import type { Pool } from 'pg';

function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

export function adjustmentsTable(schema: string): string {
  return `${checkSchema(schema)}.usage_adjustments`;
}

export async function ensureAdjustmentsTable(pool: Pool, schema: string): Promise<void> {
  const t = adjustmentsTable(schema);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${t} (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    account_id text NOT NULL,
    source text NOT NULL CHECK (source IN ('cdr', 'record')),
    source_id text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('rerate', 'late_report')),
    tor text NOT NULL,
    category text NOT NULL,
    event_time timestamptz NOT NULL,
    delta_usage numeric NOT NULL DEFAULT 0,
    delta_charged_nano bigint NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    op_id text NOT NULL,
    UNIQUE (tenant, op_id)
  )`);
  // The sum of a row's earlier differences, read by the next rerate or late report of that row.
  await pool.query(`CREATE INDEX IF NOT EXISTS usage_adjustments_source ON ${t} (tenant, source, source_id)`);
  await pool.query(
    `CREATE INDEX IF NOT EXISTS usage_adjustments_stored_at ON ${t} USING brin (stored_at) WITH (autosummarize = on)`,
  );
}

/**
 * SQL (a scalar subquery) for the money of a billable row's earlier differences; `tenant` and `id`
 * are SQL expressions of the outer row.
 */
export function earlierDeltasSql(
  schema: string,
  source: 'cdr' | 'record',
  tenant: string,
  id: string,
): string {
  return `COALESCE((SELECT sum(a.delta_charged_nano) FROM ${adjustmentsTable(schema)} a
    WHERE a.tenant = ${tenant} AND a.source = '${source}' AND a.source_id = ${id}), 0)`;
}
