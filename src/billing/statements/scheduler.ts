/**
 * Statements on the billing scheduler's beat: after the tenants' runs, every tenant's prepaid
 * statements due by now (produce.ts). The engine drains its outboxes every 100 ms and a period is
 * due only `grace_hours` after it ended, so the ledger holds the period by then; a movement drained
 * later still lands on the next statement.
 */
import { checkSchema } from '../run/schema.js';
import { produceStatements, type StatementDeps, type StatementRunSummary } from './produce.js';

export async function scheduledStatements(
  deps: StatementDeps,
  nowMs: number,
): Promise<(StatementRunSummary & { tenant: string })[]> {
  const r = await deps.pool.query<{ tenant: string }>(
    `SELECT DISTINCT tenant FROM ${checkSchema(deps.schema)}.billing_accounts
      WHERE account_type = 'prepaid' AND invoice_mode = 'statement' ORDER BY tenant`,
  );
  const out: (StatementRunSummary & { tenant: string })[] = [];
  for (const { tenant } of r.rows) out.push({ tenant, ...(await produceStatements(deps, tenant, nowMs)) });
  return out;
}
