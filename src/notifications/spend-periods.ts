/**
 * The period a `spend_above` rule counts in: the account's bill period when it has a billing profile
 * (the period the billing run stores or would store: bill-periods.ts `advance` tiles them from the
 * profile's start and cycle day in its zone), else the calendar month in UTC. A bill period is named
 * as an ISO 8601 interval, "2026-11-15T00:00:00.000Z/2026-12-15T00:00:00.000Z"; a month as "2026-11".
 * Read once per detector pass for the pass's accounts: two queries, none when billing is not set up.
 */
import type { PoolClient } from 'pg';
import { accountsChunk, type BillingAccount } from '../billing/run/accounts.js';
import { advance } from '../billing/run/bill-periods.js';
import { periodOf } from './rules.js';

interface Stored {
  tenant: string;
  account_id: string;
  seq: number;
  period_start: Date;
  period_end: Date;
}

export type SpendPeriodOf = (tenant: string, accountId: string, at: Date) => string;

const interval = (start: number, end: number) =>
  `${new Date(start).toISOString()}/${new Date(end).toISOString()}`;

/** The bill period of `at` for an account with a profile; null when `at` is before its billing began. */
export function billPeriodAt(a: BillingAccount, stored: Stored[], at: Date): string | null {
  const t = at.getTime();
  const before = stored.filter((p) => p.period_start.getTime() <= t);
  const latest = before[before.length - 1];
  if (latest && latest.period_end.getTime() > t)
    return interval(latest.period_start.getTime(), latest.period_end.getTime());
  // Past the stored periods (the run has not closed them yet), or none stored: as the run will tile.
  const from = latest
    ? {
        accountId: a.accountId,
        seq: latest.seq,
        start: latest.period_start,
        end: latest.period_end,
        status: 'open',
      }
    : undefined;
  const p = advance(a, from, t).at(-1);
  return p && p.start <= t ? interval(p.start, p.end) : null;
}

async function billingTables(c: PoolClient, schema: string): Promise<boolean> {
  const r = await c.query<{ a: string | null; p: string | null }>(
    `SELECT to_regclass($1) AS a, to_regclass($2) AS p`,
    [`${schema}.billing_accounts`, `${schema}.bill_periods`],
  );
  return Boolean(r.rows[0]?.a && r.rows[0]?.p);
}

/** The periods of these accounts' movements from `since` on (the pass's first movement). */
export async function spendPeriods(
  c: PoolClient,
  schema: string,
  accounts: { tenant: string; accountId: string }[],
  since: Date,
): Promise<SpendPeriodOf> {
  const calendar: SpendPeriodOf = (_t, _a, at) => periodOf(at);
  if (accounts.length === 0 || !(await billingTables(c, schema))) return calendar;
  const profiles = new Map<string, BillingAccount>();
  for (const tenant of new Set(accounts.map((x) => x.tenant))) {
    const ids = accounts.filter((x) => x.tenant === tenant).map((x) => x.accountId);
    for (const a of await accountsChunk(c, schema, tenant, '', ids.length, ids))
      profiles.set(`${tenant}/${a.accountId}`, a);
  }
  const r = await c.query<Stored>(
    `SELECT p.tenant, p.account_id, p.seq, p.period_start, p.period_end FROM ${schema}.bill_periods p
       JOIN unnest($1::text[], $2::text[]) AS k(t, a) ON (p.tenant, p.account_id) = (k.t, k.a)
      WHERE p.period_end > $3 OR p.seq = (SELECT max(q.seq) FROM ${schema}.bill_periods q
                                           WHERE q.tenant = p.tenant AND q.account_id = p.account_id)
      ORDER BY p.tenant, p.account_id, p.seq`,
    [accounts.map((x) => x.tenant), accounts.map((x) => x.accountId), since],
  );
  const stored = new Map<string, Stored[]>();
  for (const p of r.rows) {
    const k = `${p.tenant}/${p.account_id}`;
    stored.set(k, [...(stored.get(k) ?? []), p]);
  }
  return (tenant, accountId, at) => {
    const a = profiles.get(`${tenant}/${accountId}`);
    return (a && billPeriodAt(a, stored.get(`${tenant}/${accountId}`) ?? [], at)) ?? periodOf(at);
  };
}
