/**
 * The unit of `rated_records.usage`: the event's unit (seconds for voice, bytes, messages, units),
 * as in `rated_cdrs` and `usage_adjustments`, so every reader sums and shows one quantity. Versions
 * before this one stored a charged event's voice usage in the rating core's nanoseconds (a closed
 * session's was already in seconds); this module recognises those rows and converts them.
 *
 * Why the test is exact: a voice event rates at most MAX_USAGE.voice seconds (259,200), and its usage
 * is whole seconds (the API's `time` is an integer, the CGRateS facade rounds up to the second), so
 * in nanoseconds it is a multiple of 1e9: 0 (the same in both units) or at least 1e9, far above
 * 259,200. A value above MAX_USAGE.voice is nanoseconds; one at or below it is seconds, and a
 * converted value always is, so converting again changes nothing.
 */
import type { Pool } from 'pg';
import { lockCutShared } from '../billing/run/cutoff.js';
import { MAX_USAGE, NANOS_PER_SECOND } from '../rating/units.js';

/** What the column holds, also written as its comment (docs/CHARGING.md "Records"). */
export const USAGE_COMMENT =
  'usage in event units: seconds for voice, bytes for data, messages for sms, units for generic';

/** SQL: a voice event row whose usage is in nanoseconds (an older version's). */
const NANO_ROWS = `kind = 'event' AND tor = 'voice' AND usage > ${MAX_USAGE.voice}`;

/**
 * A row as an older version's outbox entry may still carry it (written before the upgrade, drained
 * after): its usage in event units.
 */
export function usageInEventUnits(row: { kind: string; tor: string; usage: number }): number {
  const nanos = row.kind === 'event' && row.tor === 'voice' && row.usage > MAX_USAGE.voice;
  return nanos ? Math.round(row.usage / NANOS_PER_SECOND) : row.usage;
}

/**
 * Converts the nanosecond rows, at every start (idempotent: see above). A partial index holds just
 * those rows (none once converted), so a start after the first reads no table. Converted rows get a
 * new `stored_at`, as a replaced record does: the daily rollup recomputes their (account, day) whole
 * (usage/rollup.ts). The transaction takes the tenants' shared cut-off locks first, as every writer of
 * billable rows does, so the rollup's horizon waits for it (billing/run/cutoff.ts); `first_stored_at`
 * and the money are untouched, so no bill moves.
 */
export async function convertNanoUsage(pool: Pool, schema: string): Promise<number> {
  const t = `${schema}.rated_records`;
  await pool.query(
    `CREATE INDEX IF NOT EXISTS rated_records_usage_nanos ON ${t} (tenant) WHERE ${NANO_ROWS}`,
  );
  await describeUsage(pool, t);
  const tenants = (
    await pool.query<{ tenant: string }>(`SELECT DISTINCT tenant FROM ${t} WHERE ${NANO_ROWS}`)
  ).rows;
  if (!tenants.length) return 0;
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const list = tenants.map((r) => r.tenant);
    await lockCutShared(c, schema, list);
    const r = await c.query(
      `UPDATE ${t} SET usage = usage / ${NANOS_PER_SECOND}, stored_at = statement_timestamp()
        WHERE tenant = ANY($1) AND ${NANO_ROWS}`,
      [list],
    );
    await c.query('COMMIT');
    return r.rowCount ?? 0;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** The column's comment says its unit; written only when it says something else (a catalog write). */
async function describeUsage(pool: Pool, table: string): Promise<void> {
  const said = await pool.query<{ c: string | null }>(
    `SELECT col_description($1::regclass, attnum) AS c FROM pg_attribute
      WHERE attrelid = $1::regclass AND attname = 'usage'`,
    [table],
  );
  if (said.rows[0]?.c !== USAGE_COMMENT)
    await pool.query(`COMMENT ON COLUMN ${table}.usage IS '${USAGE_COMMENT}'`);
}
