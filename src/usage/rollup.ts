/**
 * The daily usage rollup (docs/SELFCARE.md): folds rows stored since the mark into usage_daily, in
 * the background, never inside the transactions that store them (a per-row upsert in the CDR chunk
 * would halve the import: billing.md §3.3).
 *
 * Which rows: those with `stored_at` in [mark, horizon). Writers of billable rows stamp them with
 * statement_timestamp() after taking the shared cut-off lock as their first statement
 * (billing/run/cutoff.ts), so a row not yet committed belongs to a transaction that holds that lock
 * and began before the row's stamp. The horizon is the earliest start of such a transaction (or now):
 * every row stamped before it is committed, so moving the mark there loses nothing, and a row
 * committed late is simply read by a later run.
 *
 * How: rated CDRs and usage adjustments never change once stored (billable rows are append-only,
 * rerates write adjustments), so their sums are added. A rated record may be replaced by a late report
 * (new usage, new stored_at): the (account, day) of every record stored since the mark is recomputed
 * from rated_records (indexed by account and start). The sums and the mark move in one transaction:
 * a run that dies changes nothing, a re-run finds nothing new. Two engines: one runs, the other skips.
 */
import type { Pool, PoolClient } from 'pg';
import { checkSchema } from './schema.js';

export interface RollupResult {
  /** False when another engine's rollup held the lock (nothing done). */
  ran: boolean;
  from: string;
  to: string;
  cdrs: number;
  adjustments: number;
  recordDays: number;
}

/** The UTC day of a timestamp column, as SQL. Days are UTC for every account (docs/SELFCARE.md). */
const day = (col: string) => `(${col} AT TIME ZONE 'UTC')::date`;

const HORIZON = `SELECT LEAST(statement_timestamp(), COALESCE((
    SELECT min(a.xact_start) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.mode = 'ShareLock' AND l.granted AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), 'infinity'))::text AS h`;

export async function rollupOnce(pool: Pool, schema: string): Promise<RollupResult> {
  const s = checkSchema(schema);
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const locked = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok`, [
      `usage-rollup:${s}`,
    ]);
    if (!locked.rows[0]!.ok) {
      await c.query('COMMIT');
      return { ran: false, from: '', to: '', cdrs: 0, adjustments: 0, recordDays: 0 };
    }
    const mark = await c.query<{ m: string }>(
      `SELECT stored_at::text AS m FROM ${s}.usage_rollup_marks WHERE name = 'usage_daily' FOR UPDATE`,
    );
    const from = mark.rows[0]!.m;
    const to = (await c.query<{ h: string }>(HORIZON)).rows[0]!.h;
    const out = { ran: true, from, to, cdrs: 0, adjustments: 0, recordDays: 0 };
    const later = await c.query<{ later: boolean }>(`SELECT $2::timestamptz > $1::timestamptz AS later`, [
      from,
      to,
    ]);
    if (later.rows[0]!.later) {
      out.cdrs = await addCdrs(c, s, from, to);
      out.adjustments = await addAdjustments(c, s, from, to);
      out.recordDays = await recomputeRecords(c, s, from, to);
      await c.query(
        `UPDATE ${s}.usage_rollup_marks SET stored_at = $1, updated_at = now() WHERE name = 'usage_daily'`,
        [to],
      );
    }
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const ADD = `ON CONFLICT (tenant, account_id, day, tor, category, source) DO UPDATE SET
    quantity = usage_daily.quantity + EXCLUDED.quantity,
    charged_nano = usage_daily.charged_nano + EXCLUDED.charged_nano,
    records = usage_daily.records + EXCLUDED.records`;

async function addCdrs(c: PoolClient, s: string, from: string, to: string): Promise<number> {
  const r = await c.query<{ n: string }>(
    `WITH g AS (SELECT tenant, account_id, ${day('answer_time')} AS day, service AS tor, category,
                       sum(usage) AS quantity, sum(charged_nano)::bigint AS charged_nano, count(*) AS records
                  FROM ${s}.rated_cdrs WHERE stored_at >= $1 AND stored_at < $2
                 GROUP BY 1, 2, 3, 4, 5),
          i AS (INSERT INTO ${s}.usage_daily AS usage_daily
                  (tenant, account_id, day, tor, category, source, quantity, charged_nano, records)
                SELECT tenant, account_id, day, tor, category, 'cdr', quantity, charged_nano, records FROM g
                 ORDER BY 1, 2, 3, 4, 5 ${ADD})
     SELECT COALESCE(sum(records), 0)::text AS n FROM g`,
    [from, to],
  );
  return Number(r.rows[0]!.n);
}

async function addAdjustments(c: PoolClient, s: string, from: string, to: string): Promise<number> {
  const r = await c.query<{ n: string }>(
    `WITH g AS (SELECT tenant, account_id, ${day('event_time')} AS day, tor, category,
                       sum(delta_usage) AS quantity, sum(delta_charged_nano)::bigint AS charged_nano, count(*) AS n
                  FROM ${s}.usage_adjustments WHERE stored_at >= $1 AND stored_at < $2
                 GROUP BY 1, 2, 3, 4, 5),
          i AS (INSERT INTO ${s}.usage_daily AS usage_daily
                  (tenant, account_id, day, tor, category, source, quantity, charged_nano, records)
                SELECT tenant, account_id, day, tor, category, 'adjustment', quantity, charged_nano, 0 FROM g
                 ORDER BY 1, 2, 3, 4, 5 ${ADD})
     SELECT COALESCE(sum(n), 0)::text AS n FROM g`,
    [from, to],
  );
  return Number(r.rows[0]!.n);
}

/** Every (account, day) with a record stored since the mark, recomputed whole from rated_records. */
async function recomputeRecords(c: PoolClient, s: string, from: string, to: string): Promise<number> {
  const keys = await c.query(
    `CREATE TEMP TABLE usage_keys ON COMMIT DROP AS
       SELECT DISTINCT tenant, account_id, ${day('started_at')} AS day
         FROM ${s}.rated_records WHERE stored_at >= $1 AND stored_at < $2`,
    [from, to],
  );
  if (!keys.rowCount) {
    await c.query('DROP TABLE usage_keys');
    return 0;
  }
  await c.query(
    `DELETE FROM ${s}.usage_daily u USING usage_keys k
      WHERE u.tenant = k.tenant AND u.account_id = k.account_id AND u.day = k.day AND u.source = 'record'`,
  );
  await c.query(
    `INSERT INTO ${s}.usage_daily (tenant, account_id, day, tor, category, source, quantity, charged_nano, records)
     SELECT r.tenant, r.account_id, k.day, r.tor, r.category, 'record', sum(r.usage), sum(r.charged_nano)::bigint, count(*)
       FROM usage_keys k JOIN ${s}.rated_records r
         ON r.tenant = k.tenant AND r.account_id = k.account_id
        AND r.started_at >= k.day::timestamp AT TIME ZONE 'UTC'
        AND r.started_at < (k.day + 1)::timestamp AT TIME ZONE 'UTC'
      GROUP BY 1, 2, 3, 4, 5`,
  );
  await c.query('DROP TABLE usage_keys');
  return keys.rowCount;
}

/** How far behind the rollup is: now minus its mark, in seconds (null before its first run). */
export async function rollupLagSeconds(pool: Pool, schema: string): Promise<number | null> {
  const r = await pool.query<{ lag: string | null }>(
    `SELECT CASE WHEN stored_at = '-infinity' THEN NULL ELSE extract(epoch FROM now() - stored_at)::text END AS lag
       FROM ${checkSchema(schema)}.usage_rollup_marks WHERE name = 'usage_daily'`,
  );
  const lag = r.rows[0]?.lag;
  return lag == null ? null : Number(lag);
}
