/** Reads of usage_daily for the usage views: by day and service, and a period's totals. */
import type { Pool } from 'pg';
import { checkSchema } from './schema.js';

export interface ServiceRow {
  day: string;
  tor: string;
  category: string;
  /** Event units (seconds for voice, bytes, messages, units) as decimal text. */
  quantity: string;
  chargedNano: bigint;
  records: number;
}

/** One row per (day, tor, category) of an account's days in [from, to], every source summed. */
export async function dailyRows(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  from: string,
  to: string,
): Promise<ServiceRow[]> {
  const r = await pool.query<{ day: string; tor: string; category: string; q: string; c: string; n: string }>(
    `SELECT day::text AS day, tor, category, sum(quantity)::text AS q, sum(charged_nano)::text AS c,
            sum(records)::text AS n
       FROM ${checkSchema(schema)}.usage_daily
      WHERE tenant = $1 AND account_id = $2 AND day >= $3::date AND day <= $4::date
      GROUP BY day, tor, category ORDER BY day, tor, category`,
    [tenant, accountId, from, to],
  );
  return r.rows.map((x) => ({
    day: x.day,
    tor: x.tor,
    category: x.category,
    quantity: x.q,
    chargedNano: BigInt(x.c),
    records: Number(x.n),
  }));
}

/** Where the rollup stands: every row stored before this instant is in usage_daily (ISO, or null). */
export async function rolledUpTo(pool: Pool, schema: string): Promise<string | null> {
  const r = await pool.query<{ at: Date | null }>(
    `SELECT CASE WHEN stored_at = '-infinity' THEN NULL ELSE stored_at END AS at
       FROM ${checkSchema(schema)}.usage_rollup_marks WHERE name = 'usage_daily'`,
  );
  return r.rows[0]?.at ? r.rows[0].at.toISOString() : null;
}

/**
 * Payments received in [from, to] (days, inclusive), newest first, when the payments table exists
 * (payments are recorded by src/payments/; without it the summary lists none).
 */
export async function paymentsIn(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  from: string,
  to: string,
) {
  const s = checkSchema(schema);
  const t = await pool.query<{ e: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS e`, [`${s}.payments`]);
  if (!t.rows[0]!.e) return [];
  const r = await pool.query<{
    id: string;
    kind: string;
    a: string;
    currency: string;
    method: string;
    at: Date;
  }>(
    `SELECT id, kind, amount_nano::text AS a, currency, method, received_at AS at FROM ${s}.payments
      WHERE tenant = $1 AND account_id = $2 AND received_at >= $3::date AT TIME ZONE 'UTC'
        AND received_at < ($4::date + 1) AT TIME ZONE 'UTC'
      ORDER BY received_at DESC LIMIT 100`,
    [tenant, accountId, from, to],
  );
  return r.rows.map((p) => ({
    id: p.id,
    kind: p.kind,
    amountNano: BigInt(p.a),
    currency: p.currency,
    method: p.method,
    receivedAt: p.at.toISOString(),
  }));
}
