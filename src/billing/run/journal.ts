/**
 * The run journal (billing_runs, billing_run_items): written in the transactions of the steps it
 * describes, so a run killed at any point and started again (same asOf) resumes from it.
 */
import type { Pool, PoolClient } from 'pg';
import { randomUUID } from 'node:crypto';
import { checkSchema } from './schema.js';

export interface RunCounters {
  renewed: number;
  feesCharged: number;
  feesFailed: number;
  periodsClosed: number;
  drafted: number;
  finalized: number;
  skipped: number;
  parked: number;
}

export const zeroCounters = (): RunCounters => ({
  renewed: 0,
  feesCharged: 0,
  feesFailed: 0,
  periodsClosed: 0,
  drafted: 0,
  finalized: 0,
  skipped: 0,
  parked: 0,
});

export interface RunRow {
  id: string;
  tenant: string;
  asOf: string;
  dryRun: boolean;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  counters: RunCounters;
  scope: { accounts?: string[] };
  requestedBy: string;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** A run of this asOf (the same row again for a rerun of a non-dry run: it resumes). */
export async function openRun(
  pool: Pool,
  schema: string,
  r: { tenant: string; asOf: Date; requestedBy: string; accounts?: string[]; dryRun: boolean },
): Promise<string> {
  const s = checkSchema(schema);
  const scope = JSON.stringify(r.accounts ? { accounts: r.accounts } : {});
  const q = await pool.query<{ id: string }>(
    `INSERT INTO ${s}.billing_runs (id, tenant, as_of, requested_by, scope, dry_run, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'running')
     ON CONFLICT (tenant, as_of) WHERE NOT dry_run
       DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, error = NULL, scope = EXCLUDED.scope
     RETURNING id`,
    [randomUUID(), r.tenant, r.asOf.toISOString(), r.requestedBy, scope, r.dryRun],
  );
  return q.rows[0]!.id;
}

export async function closeRun(
  pool: Pool,
  schema: string,
  id: string,
  status: 'done' | 'failed',
  counters: RunCounters,
  error?: string,
): Promise<void> {
  await pool.query(
    `UPDATE ${checkSchema(schema)}.billing_runs SET status = $2, counters = $3, error = $4, finished_at = now() WHERE id = $1`,
    [id, status, JSON.stringify(counters), error ?? null],
  );
}

export interface RunItem {
  accountId: string;
  step: string;
  outcome: 'invoiced' | 'skipped' | 'parked';
  code?: string;
  message?: string;
  invoiceId?: string;
}

export async function writeItems(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  runId: string,
  tenant: string,
  items: RunItem[],
) {
  if (items.length === 0) return;
  // One row per account and run: an account's later bill (or step) says where it stands.
  items = [...new Map(items.map((i) => [i.accountId, i])).values()];
  await db.query(
    `INSERT INTO ${checkSchema(schema)}.billing_run_items (run_id, tenant, account_id, step, outcome, code, message, invoice_id)
     SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
     ON CONFLICT (run_id, account_id) DO UPDATE SET step = EXCLUDED.step, outcome = EXCLUDED.outcome,
       code = EXCLUDED.code, message = EXCLUDED.message, invoice_id = COALESCE(EXCLUDED.invoice_id, billing_run_items.invoice_id)`,
    [
      runId,
      tenant,
      items.map((i) => i.accountId),
      items.map((i) => i.step),
      items.map((i) => i.outcome),
      items.map((i) => i.code ?? null),
      items.map((i) => i.message ?? null),
      items.map((i) => i.invoiceId ?? null),
    ],
  );
}

const RUN_COLUMNS = `id, tenant, as_of AS "asOf", dry_run AS "dryRun", status, counters, scope,
  requested_by AS "requestedBy", error, started_at AS "startedAt", finished_at AS "finishedAt"`;

export async function getRun(
  pool: Pool,
  schema: string,
  tenant: string,
  id: string,
): Promise<RunRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await pool.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM ${checkSchema(schema)}.billing_runs WHERE tenant = $1 AND id = $2`,
    [tenant, id],
  );
  return r.rows[0];
}

export async function runItems(
  pool: Pool,
  schema: string,
  runId: string,
  outcome?: string,
): Promise<RunItem[]> {
  const r = await pool.query<RunItem>(
    `SELECT account_id AS "accountId", step, outcome, code, message, invoice_id AS "invoiceId"
       FROM ${checkSchema(schema)}.billing_run_items WHERE run_id = $1 AND ($2::text IS NULL OR outcome = $2)
      ORDER BY account_id LIMIT 10000`,
    [runId, outcome ?? null],
  );
  return r.rows;
}
