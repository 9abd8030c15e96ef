/**
 * Small idempotent changes for tables an older version created (`CREATE TABLE IF NOT EXISTS` leaves
 * them as they were): a table's primary key is made the one this version keys its rows by.
 */
import type { Pool } from 'pg';

export async function ensurePrimaryKey(pool: Pool, table: string, columns: string[]): Promise<void> {
  const [schema, name] = table.split('.') as [string, string];
  const r = await pool.query<{ conname: string; cols: string[] }>(
    `SELECT c.conname, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
      WHERE c.contype = 'p' AND n.nspname = $1 AND t.relname = $2
      GROUP BY c.conname`,
    [schema, name],
  );
  const current = r.rows[0];
  if (current && current.cols.join(',') === columns.join(',')) return;
  await pool.query(
    `ALTER TABLE ${table} ${current ? `DROP CONSTRAINT ${current.conname},` : ''} ADD PRIMARY KEY (${columns.join(', ')})`,
  );
}

/**
 * A column's type made the one this version writes (e.g. jsonb to json: history is written far
 * more often than it is searched, and json is stored as given, without jsonb's conversion).
 */
export async function ensureColumnType(
  pool: Pool,
  table: string,
  column: string,
  type: string,
): Promise<void> {
  const [schema, name] = table.split('.') as [string, string];
  const r = await pool.query<{ t: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped`,
    [schema, name, column],
  );
  const current = r.rows[0]?.t;
  if (current && current !== type)
    await pool.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE ${type}`);
}
