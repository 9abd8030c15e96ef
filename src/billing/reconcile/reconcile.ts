/**
 * Reconciliation (billing.md E.3, test #16): reads Redis and PostgreSQL for one account or every
 * account of a tenant with a billing profile, applies the rules of check.ts, and reports each
 * difference with its reason. It reads only; what to do about a difference is for billing staff.
 */
import type { Pool } from 'pg';
import { cdrOutboxKey } from '../../balances/keys.js';
import type { BalanceStore } from '../../balances/store.js';
import { ledgerDifferences, postpaidDifference, type Difference } from './check.js';
import { ledgerSums, postpaidFigures, profiledAccounts } from './read.js';

export interface ReconcileDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

export interface AccountReport {
  accountId: string;
  type: 'prepaid' | 'postpaid';
  ok: boolean;
  /** Postpaid only: the figures of the balance rule, as decimal nano strings. */
  postpaid?: Record<string, string>;
  differences: Difference[];
}

export class ReconcileAccountNotFound extends Error {}

async function undrained(b: BalanceStore, tenant: string, accountId: string): Promise<boolean> {
  const k = await b.keysFor(tenant, accountId);
  const [own, cdrs] = await Promise.all([
    b.redis.xlen(k.outbox),
    b.cluster ? Promise.resolve(0) : b.redis.xlen(cdrOutboxKey(b.keySpace, tenant)),
  ]);
  return own + cdrs > 0;
}

/** One account's report; throws ReconcileAccountNotFound for an account Redis does not know. */
export async function reconcileAccount(
  deps: ReconcileDeps,
  tenant: string,
  accountId: string,
): Promise<AccountReport> {
  const view = await deps.balances.getAccount(tenant, accountId);
  if (!view) throw new ReconcileAccountNotFound(accountId);
  const own = view.balances.filter((b) => b.scope === 'a');
  const redis = own.map((b) => ({ balanceId: b.id, unit: b.unit, nano: BigInt(b.value) }));
  const ledger = await ledgerSums(deps.pool, deps.schema, tenant, accountId);
  const differences = ledgerDifferences(redis, ledger, await undrained(deps.balances, tenant, accountId));
  const report: AccountReport = { accountId, type: view.account.type, ok: true, differences };
  if (view.account.type === 'postpaid') {
    const money = redis.filter((b) => b.unit === 'money').reduce((t, b) => t + b.nano, 0n);
    const f = await postpaidFigures(deps.pool, deps.schema, tenant, accountId, money);
    report.postpaid = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.toString()]));
    const d = postpaidDifference(f, differences.length > 0);
    if (d) differences.push(d);
  }
  report.ok = differences.length === 0;
  return report;
}

export interface ReconcileSummary {
  accounts: number;
  ok: number;
  differing: number;
  reports: AccountReport[];
}

/** These accounts, or every account of the tenant with a billing profile. */
export async function reconcile(
  deps: ReconcileDeps,
  tenant: string,
  accounts?: string[],
  onAccount?: (done: number, total: number) => void,
): Promise<ReconcileSummary> {
  const ids = accounts ?? (await profiledAccounts(deps.pool, deps.schema, tenant)).map((a) => a.accountId);
  const reports: AccountReport[] = [];
  for (const [i, id] of ids.entries()) {
    reports.push(await reconcileAccount(deps, tenant, id));
    onAccount?.(i + 1, ids.length);
  }
  const ok = reports.filter((r) => r.ok).length;
  return { accounts: reports.length, ok, differing: reports.length - ok, reports };
}

/** A report as plain JSON (bigint amounts as decimal nano strings). */
export function reportJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}
