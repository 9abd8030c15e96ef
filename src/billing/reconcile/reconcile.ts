/**
 * Reconciliation (billing.md E.3, test #16): reads Redis and PostgreSQL for one account or every
 * account of a tenant with a billing profile, applies the rules of check.ts, and reports each
 * difference with its reason. It reads only; what to do about a difference is for billing staff.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { park } from '../run/accounts.js';
import { ledgerDifferences, postpaidDifference, type Difference } from './check.js';
import { reconcileGroups, type GroupReport } from './groups.js';
import { groupMoves, ledgerSums, postpaidFigures, profiledAccounts } from './read.js';
import { balancesOf, undrained } from './redis.js';

export interface ReconcileDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

export interface AccountReport {
  accountId: string;
  type: 'prepaid' | 'postpaid';
  /** The shared group it draws from, if any (its report is in the summary's `groups`). */
  sharedGroup?: string;
  ok: boolean;
  /** Postpaid only: the figures of the balance rule, as decimal nano strings. */
  postpaid?: Record<string, string>;
  differences: Difference[];
}

export class ReconcileAccountNotFound extends Error {}

/** What their shared groups paid for these postpaid members (ledger; none read without a member). */
async function groupPaid(deps: ReconcileDeps, tenant: string, reports: AccountReport[]) {
  const members = reports.filter((r) => r.type === 'postpaid' && r.sharedGroup).map((r) => r.accountId);
  const paid = new Map<string, bigint>();
  if (members.length === 0) return paid;
  for (const m of await groupMoves(deps.pool, deps.schema, tenant, members))
    paid.set(m.accountId, (paid.get(m.accountId) ?? 0n) + m.paidNano);
  return paid;
}

/** Accounts checked together: one grouped statement per figure for each batch. */
export const RECONCILE_BATCH = 500;

/** The reports of a batch of accounts; throws ReconcileAccountNotFound for one Redis does not know. */
async function reconcileBatch(deps: ReconcileDeps, tenant: string, ids: string[]): Promise<AccountReport[]> {
  const views = await Promise.all(ids.map((id) => deps.balances.getAccount(tenant, id)));
  const missing = ids.find((_, i) => !views[i]);
  if (missing !== undefined) throw new ReconcileAccountNotFound(missing);
  const ledger = await ledgerSums(deps.pool, deps.schema, tenant, ids);
  const reports = await Promise.all(
    ids.map(async (accountId, i) => {
      const view = views[i]!;
      const redis = balancesOf(view, 'a');
      const behind = await undrained(deps.balances, tenant, accountId);
      const differences = ledgerDifferences(redis, ledger.get(accountId)!, behind);
      const money = redis.filter((b) => b.unit === 'money').reduce((t, b) => t + b.nano, 0n);
      const group = view.account.sharedGroup ? { sharedGroup: view.account.sharedGroup } : {};
      return {
        accountId,
        type: view.account.type,
        ...group,
        ok: true,
        differences,
        money,
      } as AccountReport & {
        money: bigint;
      };
    }),
  );
  const postpaid = new Map(reports.filter((r) => r.type === 'postpaid').map((r) => [r.accountId, r.money]));
  const figures =
    postpaid.size > 0
      ? await postpaidFigures(
          deps.pool,
          deps.schema,
          tenant,
          postpaid,
          await groupPaid(deps, tenant, reports),
        )
      : new Map();
  return reports.map(({ money: _money, ...r }) => {
    const f = figures.get(r.accountId);
    if (f) {
      r.postpaid = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, String(v)]));
      const d = postpaidDifference(f, r.differences[0]?.reason ?? null);
      if (d) r.differences.push(d);
    }
    r.ok = r.differences.length === 0;
    return r;
  });
}

/** One account's report; throws ReconcileAccountNotFound for an account Redis does not know. */
export async function reconcileAccount(
  deps: ReconcileDeps,
  tenant: string,
  accountId: string,
): Promise<AccountReport> {
  return (await reconcileBatch(deps, tenant, [accountId]))[0]!;
}

export interface ReconcileSummary {
  accounts: number;
  ok: number;
  differing: number;
  /** Shared groups of the accounts checked, and how many of them differ. */
  groupsDiffering: number;
  /** No account and no group differs. */
  clean: boolean;
  reports: AccountReport[];
  groups: GroupReport[];
}

/** These accounts, or every account of the tenant with a billing profile, a batch at a time. */
export async function reconcile(
  deps: ReconcileDeps,
  tenant: string,
  accounts?: string[],
  onAccount?: (done: number, total: number) => void,
  batch = RECONCILE_BATCH,
): Promise<ReconcileSummary> {
  const ids = accounts ?? (await profiledAccounts(deps.pool, deps.schema, tenant)).map((a) => a.accountId);
  const reports: AccountReport[] = [];
  for (let i = 0; i < ids.length; i += batch) {
    reports.push(...(await reconcileBatch(deps, tenant, ids.slice(i, i + batch))));
    onAccount?.(reports.length, ids.length);
  }
  const groups = new Map<string, string[]>();
  for (const r of reports)
    if (r.sharedGroup) groups.set(r.sharedGroup, [...(groups.get(r.sharedGroup) ?? []), r.accountId]);
  const groupReports = await reconcileGroups(deps, tenant, groups);
  const ok = reports.filter((r) => r.ok).length;
  const groupsDiffering = groupReports.filter((g) => !g.ok).length;
  return {
    accounts: reports.length,
    ok,
    differing: reports.length - ok,
    groupsDiffering,
    clean: ok === reports.length && groupsDiffering === 0,
    reports,
    groups: groupReports,
  };
}

/**
 * Parks every account whose report shows a real difference (an undrained outbox is only the ledger
 * being behind) with RECONCILIATION_MISMATCH, so billing runs skip it — no draft, no finalization —
 * until staff fix the cause and unpark it (`cli billing unpark`). Returns the accounts parked.
 */
export async function parkDiffering(
  deps: ReconcileDeps,
  tenant: string,
  reports: AccountReport[],
): Promise<string[]> {
  const parked: string[] = [];
  for (const r of reports) {
    const real = r.differences.filter((d) => d.reason !== 'UNDRAINED_OUTBOX');
    if (real.length === 0) continue;
    const message = real
      .map((d) => `${d.check}${d.balanceId ? ` ${d.balanceId}` : ''}: ${d.reason} ${d.differenceNano} nano`)
      .join('; ');
    await park(deps.pool, deps.schema, tenant, r.accountId, 'RECONCILIATION_MISMATCH', message);
    parked.push(r.accountId);
  }
  return parked;
}

/** A report as plain JSON (bigint amounts as decimal nano strings). */
export function reportJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}
