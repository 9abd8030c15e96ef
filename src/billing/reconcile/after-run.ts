/**
 * Reconciliation at the end of every billing run (issue 13): the run's accounts (every account it
 * journaled: invoiced, skipped or parked) and their shared groups, checked as `billing reconcile`
 * checks them, after the outboxes are drained. The outcome goes into the run's summary and its row
 * (`counters.reconciliation`); a difference is logged, never passed over in silence, and does not
 * touch the run's documents (staff decide: `billing reconcile --park`). A check that cannot run
 * (Redis or PostgreSQL gone) says so as `error`: it is not clean.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { drainOutboxes } from '../../storage/outbox.js';
import { checkSchema } from '../run/schema.js';
import type { Difference } from './check.js';
import type { GroupReport } from './groups.js';
import { reconcile, type AccountReport } from './reconcile.js';

export interface RunReconciliationDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  log?: { warn(obj: object, msg: string): void };
}

export interface RunReconciliation {
  accounts: number;
  /** Accounts with a real difference (not only an outbox still being drained). */
  differing: number;
  /** Accounts (or groups) whose ledger is still behind its outbox after a few full drains (UNDRAINED_OUTBOX). */
  behind: number;
  groups: number;
  groupsDiffering: number;
  clean: boolean;
  /** The first differences found (account or group, check, reason, amounts as decimal nano). */
  differences: (Omit<Difference, 'expectedNano' | 'actualNano' | 'differenceNano'> & {
    accountId?: string;
    group?: string;
    differenceNano: string;
  })[];
  error?: string;
}

/** How many differences the summary lists (the full report: `billing reconcile`). */
const LISTED = 20;
/**
 * Accounts per reconciliation batch: each batch scans the billable sources once (they have no
 * per-account index), so a run's accounts go in as few batches as memory allows (a Redis view each).
 */
const BATCH = 100_000;

const listed = (d: Difference, who: { accountId?: string; group?: string }) => ({
  ...who,
  check: d.check,
  ...(d.balanceId ? { balanceId: d.balanceId } : {}),
  reason: d.reason,
  detail: d.detail,
  differenceNano: d.differenceNano.toString(),
});

async function runAccounts(pool: Pool, schema: string, runId: string): Promise<string[]> {
  const r = await pool.query<{ a: string }>(
    `SELECT account_id AS a FROM ${checkSchema(schema)}.billing_run_items WHERE run_id = $1 ORDER BY 1`,
    [runId],
  );
  return r.rows.map((x) => x.a);
}

const real = (ds: Difference[]) => ds.filter((d) => d.reason !== 'UNDRAINED_OUTBOX');
const isBehind = (r: { differences: Difference[] }) =>
  r.differences.length > 0 && real(r.differences).length === 0;

function summarize(reports: AccountReport[], groups: GroupReport[]): RunReconciliation {
  const differences = [
    ...reports.flatMap((r) => real(r.differences).map((d) => listed(d, { accountId: r.accountId }))),
    ...groups.flatMap((g) => real(g.differences).map((d) => listed(d, { group: g.group }))),
  ];
  const behind = reports.filter(isBehind).length + groups.filter(isBehind).length;
  const differing = reports.filter((r) => real(r.differences).length > 0).length;
  const groupsDiffering = groups.filter((g) => real(g.differences).length > 0).length;
  return {
    accounts: reports.length,
    differing,
    behind,
    groups: groups.length,
    groupsDiffering,
    clean: differing === 0 && groupsDiffering === 0 && behind === 0,
    differences: differences.slice(0, LISTED),
  };
}

/** Full drains before rechecking the accounts still behind (the engine's drain may hold their entries). */
const RECHECKS = 3;

async function check(deps: RunReconciliationDeps, tenant: string, runId: string): Promise<RunReconciliation> {
  const drain = (full: boolean) =>
    drainOutboxes({
      redis: deps.balances.redis,
      pool: deps.pool,
      schema: deps.schema,
      keyPrefix: deps.balances.keySpace.prefix,
      full,
    });
  await drain(false);
  const s = await reconcile(deps, tenant, await runAccounts(deps.pool, deps.schema, runId), undefined, BATCH);
  const reports = new Map(s.reports.map((r) => [r.accountId, r]));
  const groups = new Map(s.groups.map((g) => [g.group, g]));
  for (let i = 0; i < RECHECKS; i++) {
    const behind = [...reports.values()].filter(isBehind).map((r) => r.accountId);
    const group = [...groups.values()].filter(isBehind).flatMap((g) => g.members.slice(0, 1));
    if (behind.length + group.length === 0) break;
    await drain(true);
    const again = await reconcile(deps, tenant, [...new Set([...behind, ...group])], undefined, BATCH);
    for (const r of again.reports) if (reports.has(r.accountId)) reports.set(r.accountId, r);
    for (const g of again.groups) groups.set(g.group, g);
  }
  return summarize([...reports.values()], [...groups.values()]);
}

/** Reconciles a finished run's accounts; records and logs the outcome. Never throws. */
export async function reconcileAfterRun(
  deps: RunReconciliationDeps,
  tenant: string,
  runId: string,
): Promise<RunReconciliation> {
  const out = await check(deps, tenant, runId).catch((err: Error): RunReconciliation => ({
    accounts: 0,
    differing: 0,
    behind: 0,
    groups: 0,
    groupsDiffering: 0,
    clean: false,
    differences: [],
    error: err.message,
  }));
  if (!out.clean)
    deps.log?.warn(
      { runId, tenant, reconciliation: out },
      out.error
        ? `billing run ${runId}: reconciliation could not run: ${out.error}`
        : `billing run ${runId}: reconciliation found ${out.differing} account(s) and ${out.groupsDiffering} group(s) differing, ${out.behind} behind`,
    );
  await deps.pool
    .query(
      `UPDATE ${checkSchema(deps.schema)}.billing_runs
          SET counters = counters || jsonb_build_object('reconciliation', $2::jsonb) WHERE id = $1`,
      [runId, JSON.stringify(out)],
    )
    .catch(() => undefined); // the summary still carries it
  return out;
}
