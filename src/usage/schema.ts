/**
 * The daily usage rollup's tables (docs/SELFCARE.md):
 *
 *   usage_daily          one row per (tenant, account, UTC day, tor, category, source): records,
 *                        quantity in event units (seconds for voice, bytes, messages, units: as
 *                        every source stores it, storage/record-units.ts), money charged (nano). `source` keeps what each input
 *                        contributed apart, so rated records (which a late report may replace) are
 *                        recomputed per account and day while CDRs and adjustments (append-only) are
 *                        added as they come.
 *   usage_rollup_marks   how far the rollup has read, by `stored_at`, moved in the transaction that
 *                        folds the rows in (a re-run finds nothing new: idempotent).
 */
import type { Pool } from 'pg';

export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

export async function ensureUsageSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.usage_daily (
    tenant text NOT NULL, account_id text NOT NULL, day date NOT NULL, tor text NOT NULL,
    category text NOT NULL, source text NOT NULL CHECK (source IN ('cdr', 'record', 'adjustment')),
    quantity numeric NOT NULL, charged_nano bigint NOT NULL, records bigint NOT NULL,
    PRIMARY KEY (tenant, account_id, day, tor, category, source))`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.usage_rollup_marks (
    name text PRIMARY KEY, stored_at timestamptz NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(
    `INSERT INTO ${s}.usage_rollup_marks (name, stored_at) VALUES ('usage_daily', '-infinity') ON CONFLICT DO NOTHING`,
  );
  // The rollup finds rated records stored (or replaced) since its mark: a BRIN index, cheap for the
  // drain that writes them. Rated CDRs and adjustments have theirs already (cdr/store.ts, adjustments.ts).
  // Created here only when the table exists (tools that make only the usage tables still start).
  const rr = await pool.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [
    `${s}.rated_records`,
  ]);
  if (rr.rows[0]!.e)
    await pool.query(
      `CREATE INDEX IF NOT EXISTS rated_records_stored_at ON ${s}.rated_records USING brin (stored_at) WITH (autosummarize = on)`,
    );
}
