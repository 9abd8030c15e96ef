/**
 * What a statement reads: an account's money movements in `balance_ledger` (its own balances, scope
 * `a`; a shared group's balances are the group's), grouped by how and by whom they moved, and the
 * usage its rated rows say it was charged, by type of record and category. Sums are `numeric` in
 * SQL and `bigint` here: never a float.
 */
import type { Pool } from 'pg';
import { ledgerTable } from '../../balances/ledger.js';
import { checkSchema } from '../run/schema.js';
import type { LedgerMove, ServiceUsage } from './statement.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** Σ of the account's money movements before the instant: its money balance then. */
export async function moneyBefore(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  beforeMs: number,
): Promise<bigint> {
  const r = await pool.query<{ n: string }>(
    `SELECT coalesce(sum(delta), 0)::text AS n FROM ${ledgerTable(schema)}
      WHERE tenant = $1 AND account_id = $2 AND scope = 'a' AND unit = 'money' AND at < $3`,
    [tenant, accountId, iso(beforeMs)],
  );
  return BigInt(r.rows[0]!.n);
}

/** Whether the payments table exists (the engine may run without payments). */
async function hasPayments(pool: Pool, schema: string): Promise<boolean> {
  const r = await pool.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
    `${checkSchema(schema)}.payments`,
  ]);
  return r.rows[0]!.t !== null;
}

/**
 * The movements in [from, to), summed per (kind, op-id prefix, sign, payment method): what a
 * statement groups by, without a row per CDR batch or charging step.
 */
export async function movesIn(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  fromMs: number,
  toMs: number,
): Promise<LedgerMove[]> {
  const payments = await hasPayments(pool, schema);
  const method = payments
    ? `(SELECT p.method FROM ${checkSchema(schema)}.payments p WHERE p.tenant = l.tenant AND p.op_id = l.op_id LIMIT 1)`
    : 'NULL::text';
  const r = await pool.query<{ kind: string; prefix: string; method: string | null; n: string }>(
    `SELECT kind, prefix, method, sum(delta)::text AS n FROM (
       SELECT l.kind, split_part(l.op_id, ':', 1) AS prefix, sign(l.delta) AS s, l.delta,
              CASE WHEN l.op_id LIKE 'payment:%' THEN ${method} END AS method
         FROM ${ledgerTable(schema)} l
        WHERE l.tenant = $1 AND l.account_id = $2 AND l.scope = 'a' AND l.unit = 'money'
          AND l.at >= $3 AND l.at < $4 AND l.delta <> 0) x
      GROUP BY kind, prefix, s, method ORDER BY kind, prefix, s, method`,
    [tenant, accountId, iso(fromMs), iso(toMs)],
  );
  return r.rows.map((m) => ({
    kind: m.kind,
    opId: `${m.prefix}:`,
    deltaNano: BigInt(m.n),
    paymentMethod: m.method,
  }));
}

/**
 * Usage charged by type of record and category, as the rated rows stored in [from, to) tell it: CDRs
 * by their service, charged events and sessions by their tor, and the rows' later differences. Rows are found by their stored stamps
 * (BRIN-indexed), so no per-account index is needed on `rated_cdrs`.
 */
export async function servicesIn(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  fromMs: number,
  toMs: number,
): Promise<ServiceUsage[]> {
  const s = checkSchema(schema);
  const r = await pool.query<{ tor: string; category: string; n: string }>(
    `SELECT tor, category, sum(n)::text AS n FROM (
       SELECT service AS tor, category, charged_nano AS n FROM ${s}.rated_cdrs
        WHERE tenant = $1 AND account_id = $2 AND stored_at >= $3 AND stored_at < $4
       UNION ALL
       SELECT tor, category, charged_nano FROM ${s}.rated_records
        WHERE tenant = $1 AND account_id = $2 AND first_stored_at >= $3 AND first_stored_at < $4
       UNION ALL
       SELECT tor, category, delta_charged_nano FROM ${s}.usage_adjustments
        WHERE tenant = $1 AND account_id = $2 AND stored_at >= $3 AND stored_at < $4) x
      GROUP BY tor, category`,
    [tenant, accountId, iso(fromMs), iso(toMs)],
  );
  return r.rows.map((x) => ({ tor: x.tor, category: x.category, chargedNano: BigInt(x.n) }));
}
