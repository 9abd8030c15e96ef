/**
 * Every row of every table of the test's schema, as text, in a stable order: a refused call's
 * "nothing changed" checked on PostgreSQL as dumpKeys checks it on Redis.
 */
import type { Pool } from 'pg';

export async function dumpTables(pool: Pool, schema: string): Promise<Record<string, string[]>> {
  const tables = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  const out: Record<string, string[]> = {};
  for (const { table_name: t } of tables.rows) {
    const rows = await pool.query<{ r: string }>(`SELECT row_to_json(x)::text AS r FROM ${schema}."${t}" x`);
    out[t] = rows.rows.map((row) => row.r).sort();
  }
  return out;
}
