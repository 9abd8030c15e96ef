/**
 * The plan catalog in PostgreSQL: a code and its versions. A PUT of a body creates the next version;
 * a body equal to the latest version's returns that version (a retried PUT creates nothing). Versions
 * are never changed: a version in use (assigned) stays what accounts were sold.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction, requestHash } from './db.js';
import { PlansError } from './errors.js';
import { validatePlanBody, type PlanVersionBody } from './plan-body.js';
import { taxCodeExists } from './taxes.js';

export interface PlanVersion {
  code: string;
  version: number;
  body: PlanVersionBody;
  inUse: boolean;
  createdAt: string;
}

interface Row {
  code: string;
  version: number;
  body: PlanVersionBody;
  in_use: boolean;
  created_at: Date;
}

const present = (r: Row): PlanVersion => ({
  code: r.code,
  version: r.version,
  body: r.body,
  inUse: r.in_use,
  createdAt: r.created_at.toISOString(),
});

export async function putPlan(
  pool: Pool,
  schema: string,
  tenant: string,
  code: string,
  raw: unknown,
): Promise<{ plan: PlanVersion; created: boolean }> {
  const checked = validatePlanBody(raw);
  if ('problems' in checked)
    throw new PlansError('INVALID_PLAN', `${checked.problems.length} problem(s) in plan ${code}`, {
      invalidParams: checked.problems,
    });
  const taxCode = checked.plan.taxCode;
  if (taxCode && !(await taxCodeExists(pool, schema, tenant, taxCode)))
    throw new PlansError('INVALID_PLAN', `plan ${code} names no known tax code`, {
      invalidParams: [{ param: '/taxCode', reason: `names no tax code (${taxCode})` }],
    });
  const hash = requestHash(checked.plan);
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`plan ${tenant} ${code}`]);
    const latest = await c.query<Row & { body_hash: string }>(
      `SELECT code, version, body, in_use, created_at, body_hash FROM ${schema}.plans
        WHERE tenant = $1 AND code = $2 ORDER BY version DESC LIMIT 1`,
      [tenant, code],
    );
    const last = latest.rows[0];
    if (last && last.body_hash === hash) return { plan: present(last), created: false };
    const r = await c.query<Row>(
      `INSERT INTO ${schema}.plans (tenant, code, version, body, body_hash) VALUES ($1, $2, $3, $4, $5)
       RETURNING code, version, body, in_use, created_at`,
      [tenant, code, (last?.version ?? 0) + 1, JSON.stringify(checked.plan), hash],
    );
    return { plan: present(r.rows[0]!), created: true };
  });
}

/** A version of a plan (the latest without one); PLAN_NOT_FOUND when there is none. */
export async function getPlan(
  db: Pool | PoolClient,
  schema: string,
  tenant: string,
  code: string,
  version?: number,
): Promise<PlanVersion> {
  const r = await db.query<Row>(
    `SELECT code, version, body, in_use, created_at FROM ${schema}.plans
      WHERE tenant = $1 AND code = $2 AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1`,
    [tenant, code, version ?? null],
  );
  if (!r.rows[0])
    throw new PlansError('PLAN_NOT_FOUND', `no plan ${code}${version ? ` version ${version}` : ''}`);
  return present(r.rows[0]);
}

/** The latest version of every plan of the tenant, by code. */
export async function listPlans(pool: Pool, schema: string, tenant: string): Promise<PlanVersion[]> {
  const r = await pool.query<Row>(
    `SELECT DISTINCT ON (code) code, version, body, in_use, created_at FROM ${schema}.plans
      WHERE tenant = $1 ORDER BY code, version DESC LIMIT 1000`,
    [tenant],
  );
  return r.rows.map(present);
}

export async function markInUse(
  c: PoolClient,
  schema: string,
  tenant: string,
  p: PlanVersion,
): Promise<void> {
  if (!p.inUse)
    await c.query(
      `UPDATE ${schema}.plans SET in_use = true WHERE tenant = $1 AND code = $2 AND version = $3`,
      [tenant, p.code, p.version],
    );
}
