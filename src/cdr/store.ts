/**
 * Rated CDRs in PostgreSQL: a table partitioned by month (partitions made on demand), a claim table
 * that makes each CDR id count once across all partitions, and a rejects table keyed by file and
 * line. A batch goes in with one COPY into a staging table and one statement that claims the new ids
 * and moves only their rows: a file fed twice stores nothing twice.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CdrReject } from './format.js';

export interface RatedCdrRow {
  cdr_id: string;
  tenant: string;
  account_id: string;
  subscriber: string;
  category: string;
  service: string;
  destination: string;
  answer_time: string;
  usage: string;
  rated_usage: string;
  cost_nano: number;
  currency: string;
  charged_nano: number;
  breakdown: unknown;
  file_id: string;
  line: number;
}

const COLUMNS = [
  'cdr_id',
  'tenant',
  'account_id',
  'subscriber',
  'category',
  'service',
  'destination',
  'answer_time',
  'usage',
  'rated_usage',
  'cost_nano',
  'currency',
  'charged_nano',
  'breakdown',
  'file_id',
  'line',
] as const;

function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

export async function ensureCdrSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.rated_cdrs (
    cdr_id text NOT NULL, tenant text NOT NULL, account_id text NOT NULL, subscriber text NOT NULL,
    category text NOT NULL, service text NOT NULL, destination text NOT NULL, answer_time timestamptz NOT NULL,
    usage numeric NOT NULL, rated_usage numeric NOT NULL, cost_nano bigint NOT NULL, currency text NOT NULL,
    charged_nano bigint NOT NULL, breakdown jsonb, file_id text NOT NULL, line bigint NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(), rerated int NOT NULL DEFAULT 0
  ) PARTITION BY RANGE (answer_time)`);
  // Added after the first release of the table: how many times the row was rerated.
  await pool.query(`ALTER TABLE ${s}.rated_cdrs ADD COLUMN IF NOT EXISTS rerated int NOT NULL DEFAULT 0`);
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${s}.cdr_ids (cdr_id text PRIMARY KEY, answer_time timestamptz NOT NULL, file_id text NOT NULL)`,
  );
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.cdr_rejects (
    file_id text NOT NULL, line bigint NOT NULL, raw text NOT NULL, reason text NOT NULL, detail text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (file_id, line))`);
}

/** The partition of a month, created if missing (its name says the month: rated_cdrs_2026_11). */
async function ensurePartition(client: PoolClient, schema: string, month: string): Promise<void> {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = `${y}-${String(m).padStart(2, '0')}-01`;
  const to = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.rated_cdrs_${y}_${String(m).padStart(2, '0')} PARTITION OF ${schema}.rated_cdrs FOR VALUES FROM ('${from}') TO ('${to}')`,
  );
}

/** One CSV field for COPY: quoted when it holds a separator, a quote or a line break. */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) || s === '' ? `"${s.replaceAll('"', '""')}"` : s;
}

export interface StoreResult {
  stored: number;
  duplicates: number;
}

/** Stores a batch of rated CDRs once each; returns how many were new and how many were known. */
export async function storeRatedCdrs(pool: Pool, schema: string, rows: RatedCdrRow[]): Promise<StoreResult> {
  if (rows.length === 0) return { stored: 0, duplicates: 0 };
  const s = checkSchema(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Partitions are made in their own statements before the move (DDL and data in one transaction is fine).
    for (const month of new Set(rows.map((r) => new Date(r.answer_time).toISOString().slice(0, 7))))
      await ensurePartition(client, s, month);
    await client.query(`CREATE TEMP TABLE staging (LIKE ${s}.rated_cdrs INCLUDING DEFAULTS) ON COMMIT DROP`);
    const text = rows.map((r) => COLUMNS.map((c) => csvField(r[c])).join(',')).join('\n') + '\n';
    await pipeline(
      Readable.from([text]),
      client.query(copyFrom(`COPY staging (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`)),
    );
    const moved = await client.query(
      `WITH claimed AS (
         INSERT INTO ${s}.cdr_ids (cdr_id, answer_time, file_id)
         SELECT DISTINCT ON (cdr_id) cdr_id, answer_time, file_id FROM staging ORDER BY cdr_id
         ON CONFLICT DO NOTHING RETURNING cdr_id)
       INSERT INTO ${s}.rated_cdrs (${COLUMNS.join(', ')})
       SELECT DISTINCT ON (st.cdr_id) ${COLUMNS.map((c) => `st.${c}`).join(', ')} FROM staging st JOIN claimed USING (cdr_id) ORDER BY st.cdr_id`,
    );
    await client.query('COMMIT');
    return { stored: moved.rowCount ?? 0, duplicates: rows.length - (moved.rowCount ?? 0) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Stores rejects once per (file, line); a rerun of the same file adds none. */
export async function storeRejects(
  pool: Pool,
  schema: string,
  fileId: string,
  rejects: CdrReject[],
): Promise<number> {
  if (rejects.length === 0) return 0;
  const s = checkSchema(schema);
  const r = await pool.query(
    `INSERT INTO ${s}.cdr_rejects (file_id, line, raw, reason, detail)
     SELECT $1, l, r, re, d FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS x(l, r, re, d)
     ON CONFLICT DO NOTHING`,
    [
      fileId,
      rejects.map((x) => x.line),
      rejects.map((x) => x.raw),
      rejects.map((x) => x.reason),
      rejects.map((x) => x.detail),
    ],
  );
  return r.rowCount ?? 0;
}
