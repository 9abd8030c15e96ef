/**
 * Reconciliation (billing.md E.3, test #16): reads Redis and PostgreSQL for one account or every
 * account of a tenant with a billing profile, applies the rules of check.ts, and reports each
 * difference with its reason. It reads only; what to do about a difference is for billing staff.
 */
import type { Pool } from 'pg';
import { cdrOutboxKey } from '../../balances/keys.js';
import type { BalanceStore } from '../../balances/store.js';
import { park } from '../run/accounts.js';
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
      const redis = view.balances
        .filter((b) => b.scope === 'a')
        .map((b) => ({ balanceId: b.id, unit: b.unit, nano: BigInt(b.value) }));
      const behind = await undrained(deps.balances, tenant, accountId);
      const differences = ledgerDifferences(redis, ledger.get(accountId)!, behind);
      const money = redis.filter((b) => b.unit === 'money').reduce((t, b) => t + b.nano, 0n);
      return { accountId, type: view.account.type, ok: true, differences, money } as AccountReport & {
        money: bigint;
      };
    }),
  );
  const postpaid = new Map(reports.filter((r) => r.type === 'postpaid').map((r) => [r.accountId, r.money]));
  const figures =
    postpaid.size > 0 ? await postpaidFigures(deps.pool, deps.schema, tenant, postpaid) : new Map();
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
  reports: AccountReport[];
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
  const ok = reports.filter((r) => r.ok).length;
  return { accounts: reports.length, ok, differing: reports.length - ok, reports };
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
