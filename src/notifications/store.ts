/** Reading and writing the notification rules and crossing state (PostgreSQL). */
import type { Pool, PoolClient } from 'pg';
import type { Rule } from './rules.js';

type Q = Pool | PoolClient;

interface RuleRow {
  code: string;
  account_id: string | null;
  kind: Rule['kind'];
  params: { amountNano?: string; percent?: number; days?: number };
  enabled: boolean;
  tenant: string;
}

const toRule = (r: RuleRow): Rule => ({
  code: r.code,
  kind: r.kind,
  accountId: r.account_id,
  enabled: r.enabled,
  ...(r.params.amountNano !== undefined ? { amountNano: BigInt(r.params.amountNano) } : {}),
  ...(r.params.percent !== undefined ? { percent: r.params.percent } : {}),
  ...(r.params.days !== undefined ? { days: r.params.days } : {}),
});

export async function saveRule(q: Q, schema: string, tenant: string, r: Rule): Promise<void> {
  const params = { amountNano: r.amountNano?.toString(), percent: r.percent, days: r.days };
  await q.query(
    `INSERT INTO ${schema}.notification_rules (tenant, code, account_id, kind, params, enabled)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant, code) DO UPDATE SET account_id = $3, kind = $4, params = $5, enabled = $6, updated_at = now()`,
    [tenant, r.code, r.accountId, r.kind, JSON.stringify(params), r.enabled],
  );
}

export async function rulesOf(q: Q, schema: string, tenants: string[]): Promise<Map<string, Rule[]>> {
  const r = await q.query<RuleRow>(
    `SELECT * FROM ${schema}.notification_rules WHERE tenant = ANY($1) ORDER BY tenant, code`,
    [tenants],
  );
  const out = new Map<string, Rule[]>();
  for (const row of r.rows) out.set(row.tenant, [...(out.get(row.tenant) ?? []), toRule(row)]);
  return out;
}

/** The (subject, rule, balance) states that have fired and not re-armed, as keys. */
export async function firedKeys(
  q: Q,
  schema: string,
  tenants: string[],
  subjects: string[],
): Promise<Set<string>> {
  const r = await q.query<{ tenant: string; subject: string; rule_code: string; balance_id: string }>(
    `SELECT tenant, subject, rule_code, balance_id FROM ${schema}.notification_state
      WHERE tenant = ANY($1) AND subject = ANY($2) AND fired`,
    [tenants, subjects],
  );
  return new Set(r.rows.map((x) => stateKey(x.tenant, x.subject, x.rule_code, x.balance_id)));
}

export const stateKey = (tenant: string, subject: string, rule: string, balance: string) =>
  JSON.stringify([tenant, subject, rule, balance]);

export async function writeStates(q: Q, schema: string, states: Map<string, boolean>): Promise<void> {
  if (states.size === 0) return;
  const keys = [...states.keys()].map((k) => JSON.parse(k) as string[]);
  await q.query(
    `INSERT INTO ${schema}.notification_state (tenant, subject, rule_code, balance_id, fired)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[])
     ON CONFLICT (tenant, subject, rule_code, balance_id) DO UPDATE SET fired = EXCLUDED.fired, updated_at = now()`,
    [...[0, 1, 2, 3].map((i) => keys.map((k) => k[i])), [...states.values()]],
  );
}

export async function allowancesOf(q: Q, schema: string, tenants: string[], subjects: string[]) {
  const r = await q.query<{ tenant: string; subject: string; balance_id: string; allowance: string }>(
    `SELECT * FROM ${schema}.notification_allowances WHERE tenant = ANY($1) AND subject = ANY($2)`,
    [tenants, subjects],
  );
  return new Map(r.rows.map((x) => [stateKey(x.tenant, x.subject, '', x.balance_id), BigInt(x.allowance)]));
}

/** A bundle's last grant: its allowance, the account it was seen on, and when it expires. */
export interface Grant {
  allowance: bigint;
  accountId: string;
  expiresAt: Date | null;
}

export async function writeAllowances(q: Q, schema: string, a: Map<string, Grant>): Promise<void> {
  if (a.size === 0) return;
  const keys = [...a.keys()].map((k) => JSON.parse(k) as string[]);
  const grants = [...a.values()];
  await q.query(
    `INSERT INTO ${schema}.notification_allowances (tenant, subject, balance_id, allowance, account_id, expires_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])
     ON CONFLICT (tenant, subject, balance_id) DO UPDATE
       SET allowance = EXCLUDED.allowance, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at`,
    [
      keys.map((k) => k[0]),
      keys.map((k) => k[1]),
      keys.map((k) => k[3]),
      grants.map((g) => String(g.allowance)),
      grants.map((g) => g.accountId),
      grants.map((g) => g.expiresAt),
    ],
  );
}

/** One rule of the tenant, or all of them (for the API). */
export async function readRules(q: Q, schema: string, tenant: string, code?: string): Promise<Rule[]> {
  const r = await q.query<RuleRow>(
    `SELECT * FROM ${schema}.notification_rules WHERE tenant = $1 AND ($2::text IS NULL OR code = $2) ORDER BY code`,
    [tenant, code ?? null],
  );
  return r.rows.map(toRule);
}

/**
 * Removes a rule and its crossing state on the caller's client, inside the caller's transaction (the
 * CGRateS facade removes a trigger's rule with the trigger, in one).
 */
export async function removeRuleIn(q: PoolClient, schema: string, tenant: string, code: string) {
  const r = await q.query(`DELETE FROM ${schema}.notification_rules WHERE tenant = $1 AND code = $2`, [
    tenant,
    code,
  ]);
  await q.query(`DELETE FROM ${schema}.notification_state WHERE tenant = $1 AND rule_code = $2`, [
    tenant,
    code,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** Removes a rule and its crossing state (a rule saved again under the code starts armed). */
export async function deleteRule(pool: Pool, schema: string, tenant: string, code: string): Promise<boolean> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const removed = await removeRuleIn(c, schema, tenant, code);
    await c.query('COMMIT');
    return removed;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
