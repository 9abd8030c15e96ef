/**
 * Small idempotent changes for tables an older version created (`CREATE TABLE IF NOT EXISTS` leaves
 * them as they were): a table's primary key is made the one this version keys its rows by. And the
 * lock under which every start-up creates and upgrades a schema.
 */
import type { Pool } from 'pg';

/**
 * Runs `ensure` (a schema's creation and upgrades) under a PostgreSQL advisory lock on the schema's
 * name, held by a connection of its own: engines and commands starting together take turns, so none
 * trips over a CREATE ... IF NOT EXISTS the other is running (`IF NOT EXISTS` checks, then inserts:
 * two at once can both find nothing, and the second dies on a unique index of the catalog). The
 * second finds everything made and changes nothing. `ensure` runs on the pool's other connections,
 * so the pool must allow two.
 */
export async function underSchemaLock<T>(pool: Pool, schema: string, ensure: () => Promise<T>): Promise<T> {
  const lock = await pool.connect();
  const key = `ocs schema ${schema}`;
  let failed: Error | undefined;
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    try {
      return await ensure();
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
    }
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    // A connection that failed may still hold the lock: closed, not handed back.
    lock.release(failed);
  }
}

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

/**
 * A column added to a table an older version created; `backfill` (an UPDATE) runs once, right after
 * the column is added, for the rows that had none. Returns whether the column was added.
 */
export async function ensureColumn(
  pool: Pool,
  table: string,
  column: string,
  definition: string,
  backfill?: string,
): Promise<boolean> {
  const [schema, name] = table.split('.') as [string, string];
  const r = await pool.query(
    `SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped`,
    [schema, name, column],
  );
  if (r.rowCount) return false;
  await pool.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} ${definition}`);
  if (backfill) await pool.query(backfill);
  return true;
}

/**
 * A column's default made this expression (e.g. `now()` to `statement_timestamp()`), changed only
 * when it differs: ALTER takes a short exclusive lock a busy table should not wait for at every start.
 */
export async function ensureColumnDefault(
  pool: Pool,
  table: string,
  column: string,
  expression: string,
): Promise<void> {
  const [schema, name] = table.split('.') as [string, string];
  const r = await pool.query<{ d: string | null }>(
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped`,
    [schema, name, column],
  );
  if (r.rows[0] && r.rows[0].d !== expression)
    await pool.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET DEFAULT ${expression}`);
}
