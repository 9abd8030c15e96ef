/**
 * The engine's billing scheduler (billing.md E.3): every BILLING_RUN_EVERY seconds, a run as of now
 * for every tenant with billing profiles — due renewals, periods to close, bills past their grace.
 * A tenant whose run is still going (here or on another engine) is skipped: its lock says so.
 */
import type { RunDeps, RunSummary } from './run.js';
import { RunInProgressError, runBilling } from './run.js';
import { checkSchema } from './schema.js';

/** Tenants with billing profiles; none while the plans' tables do not exist yet. */
async function billingTenants(deps: RunDeps): Promise<string[]> {
  try {
    const r = await deps.pool.query<{ tenant: string }>(
      `SELECT DISTINCT tenant FROM ${checkSchema(deps.schema)}.billing_accounts ORDER BY tenant`,
    );
    return r.rows.map((x) => x.tenant);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return []; // undefined_table
    throw err;
  }
}

/** One round of the scheduler: a run per tenant, one after the other; returns their summaries. */
export async function scheduledRuns(deps: RunDeps): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  for (const tenant of await billingTenants(deps)) {
    try {
      out.push(await runBilling(deps, { tenant, asOf: new Date(deps.now()), requestedBy: 'scheduler' }));
    } catch (err) {
      if (!(err instanceof RunInProgressError)) throw err;
    }
  }
  return out;
}
