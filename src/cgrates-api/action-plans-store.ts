/**
 * CGRateS action plans kept in PostgreSQL per tenant: their timings as CGRateS shows them and the
 * catalog plan (code, version) their periodic timing renews as. Which accounts a plan is bound to is
 * not kept here: a binding is the plan's assignment (account_plans), active until cancelled, so the
 * renewal, its state and the bindings cannot disagree.
 */
import type { Pool } from 'pg';
import { ensurePlansSchema } from '../billing/plans/schema.js';
import type { StoredTiming } from './action-plan-timing.js';

export interface ActionPlanRow {
  id: string;
  timings: StoredTiming[];
  /** The catalog plan of the periodic timing (null: only *asap timings). */
  planCode: string | null;
  planVersion: number | null;
}

/** An account bound to a plan: its assignment and when the plan next renews on it. */
export interface Binding {
  actionPlanId: string;
  accountId: string;
  assignmentId: string;
  periodEnd: Date;
}

interface Row {
  id: string;
  timings: StoredTiming[];
  plan_code: string | null;
  plan_version: number | null;
}

/**
 * An action plan id as a key part of references and catalog codes: no ':' (CGRateS's own
 * separator), no spaces, braces or control characters (PostgreSQL text holds no NUL).
 */
export const isPlanId = (id: string) =>
  /^[^\s:{}]{1,64}$/.test(id) && [...id].every((ch) => ch.charCodeAt(0) >= 0x20);

/** Text PostgreSQL can hold (no NUL): an id with one names nothing the engine keeps. */
export const isText = (s: string) => !s.includes('\u0000');

const present = (r: Row): ActionPlanRow => ({
  id: r.id,
  timings: r.timings,
  planCode: r.plan_code,
  planVersion: r.plan_version,
});

/** A bound assignment: running, and not cancelled for its period end. */
const BOUND = `a.status IN ('active', 'unpaid') AND a.end_at IS NULL`;

export async function ensureActionPlanSchema(pool: Pool, schema: string): Promise<void> {
  await ensurePlansSchema(pool, schema);
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${schema}.cgr_action_plans (
  tenant text NOT NULL, id text NOT NULL, timings jsonb NOT NULL, plan_code text NULL,
  plan_version int NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, id))`);
  // GetActionPlan's AccountIDs: the bound assignments of one plan code, without a scan of them all.
  await pool.query(`CREATE INDEX IF NOT EXISTS account_plans_cgr_bound ON ${schema}.account_plans
    (tenant, plan_code, account_id) WHERE status IN ('active', 'unpaid') AND end_at IS NULL`);
}

export function actionPlanStore(pool: Pool, schema: string) {
  let ready: Promise<void> | undefined;
  const table = `${schema}.cgr_action_plans`;
  /** Creates the tables once per process; a failed try (an outage) is tried again next time. */
  const ensure = () =>
    (ready ??= ensureActionPlanSchema(pool, schema).catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));
  const bindings = async (where: string, args: unknown[]): Promise<Binding[]> => {
    await ensure();
    const r = await pool.query<{ ap: string; account_id: string; id: string; end: Date }>(
      `SELECT p.id AS ap, a.account_id, a.id::text AS id, a.current_period_end AS end
         FROM ${table} p JOIN ${schema}.account_plans a ON a.tenant = p.tenant AND a.plan_code = p.plan_code
        WHERE p.tenant = $1 AND ${BOUND} AND ${where} ORDER BY p.id, a.account_id LIMIT 10000`,
      args,
    );
    return r.rows.map((x) => ({
      actionPlanId: x.ap,
      accountId: x.account_id,
      assignmentId: x.id,
      periodEnd: x.end,
    }));
  };

  return {
    async get(tenant: string, id: string): Promise<ActionPlanRow | undefined> {
      await ensure();
      const r = await pool.query<Row>(`SELECT * FROM ${table} WHERE tenant = $1 AND id = $2`, [tenant, id]);
      return r.rows[0] && present(r.rows[0]);
    },

    async list(tenant: string): Promise<ActionPlanRow[]> {
      await ensure();
      const r = await pool.query<Row>(`SELECT * FROM ${table} WHERE tenant = $1 ORDER BY id LIMIT 10000`, [
        tenant,
      ]);
      return r.rows.map(present);
    },

    async put(tenant: string, p: ActionPlanRow): Promise<void> {
      await ensure();
      await pool.query(
        `INSERT INTO ${table} (tenant, id, timings, plan_code, plan_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, id) DO UPDATE SET timings = EXCLUDED.timings, plan_code = EXCLUDED.plan_code,
           plan_version = EXCLUDED.plan_version, updated_at = now()`,
        [tenant, p.id, JSON.stringify(p.timings), p.planCode, p.planVersion],
      );
    },

    async remove(tenant: string, id: string): Promise<boolean> {
      await ensure();
      const r = await pool.query(`DELETE FROM ${table} WHERE tenant = $1 AND id = $2`, [tenant, id]);
      return (r.rowCount ?? 0) > 0;
    },

    /** The accounts bound to these plans. */
    ofPlans: (tenant: string, ids: string[]) => bindings('p.id = ANY($2)', [tenant, ids]),

    /** The plans an account is bound to. */
    ofAccount: (tenant: string, accountId: string) => bindings('a.account_id = $2', [tenant, accountId]),

    /** How many times the account was ever assigned the plan (the next binding's number). */
    async timesAssigned(tenant: string, accountId: string, planCode: string): Promise<number> {
      await ensure();
      const r = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.account_plans WHERE tenant = $1 AND account_id = $2 AND plan_code = $3`,
        [tenant, accountId, planCode],
      );
      return r.rows[0]!.n;
    },
  };
}

export type ActionPlanStore = ReturnType<typeof actionPlanStore>;
