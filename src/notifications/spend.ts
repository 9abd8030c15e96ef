/** Each account's money spend per calendar month, kept by the detector for `spend_above` rules. */
import type { PoolClient } from 'pg';
import { stateKey } from './store.js';

/** Spend so far of these (tenant, account, period) keys, as stateKey(tenant, account, '', period). */
export async function spendOf(c: PoolClient, schema: string, keys: string[]): Promise<Map<string, bigint>> {
  const parts = keys.map((k) => JSON.parse(k) as string[]);
  const r = await c.query<{ tenant: string; account_id: string; period: string; spent_nano: string }>(
    `SELECT s.* FROM ${schema}.notification_spend s
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(t, a, p) ON (s.tenant, s.account_id, s.period) = (k.t, k.a, k.p)`,
    [parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[3])],
  );
  return new Map(r.rows.map((x) => [stateKey(x.tenant, x.account_id, '', x.period), BigInt(x.spent_nano)]));
}

export async function writeSpend(c: PoolClient, schema: string, spend: Map<string, bigint>): Promise<void> {
  if (spend.size === 0) return;
  const parts = [...spend.keys()].map((k) => JSON.parse(k) as string[]);
  await c.query(
    `INSERT INTO ${schema}.notification_spend (tenant, account_id, period, spent_nano)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
     ON CONFLICT (tenant, account_id, period) DO UPDATE SET spent_nano = EXCLUDED.spent_nano`,
    [parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[3]), [...spend.values()].map(String)],
  );
}
