/**
 * Producing prepaid statements: for every prepaid account whose billing profile says `statement`,
 * each bill period that ended at least `grace_hours` before asOf gets one statement, oldest first.
 * The first period starts when the profile was made; each next one where the last ended, up to the
 * next anchor of the profile's cycle day in its zone (billing/core/periods.ts).
 *
 * Statements chain: one opens with the previous one's closing balance. A movement stamped before the
 * period but drained into the ledger after the previous statement was written (the drain runs
 * behind Redis by milliseconds; the grace is hours) is not lost: it shows on this statement as a
 * `late` adjustment, so every movement is on exactly one statement.
 */
import type { Pool } from 'pg';
import { formatMoney } from '../core/currency.js';
import { nextAnchor } from '../core/periods.js';
import { checkSchema } from '../run/schema.js';
import { moneyBefore, movesIn, servicesIn } from './ledger-read.js';
import { statementFigures, type StatementFigures } from './statement.js';
import { insertStatement, lastStatement } from './store.js';

export interface StatementDeps {
  pool: Pool;
  schema: string;
}

interface Profile {
  accountId: string;
  currency: string;
  timezone: string;
  billCycleDay: number;
  graceHours: number;
  createdAtMs: number;
}

async function prepaidProfiles(deps: StatementDeps, tenant: string, accounts?: string[]): Promise<Profile[]> {
  const r = await deps.pool.query<Profile & { createdAtMs: string }>(
    `SELECT account_id AS "accountId", currency, timezone, bill_cycle_day AS "billCycleDay",
            grace_hours AS "graceHours", (extract(epoch FROM created_at) * 1000)::bigint::text AS "createdAtMs"
       FROM ${checkSchema(deps.schema)}.billing_accounts
      WHERE tenant = $1 AND account_type = 'prepaid' AND invoice_mode = 'statement'
        AND ($2::text[] IS NULL OR account_id = ANY($2)) ORDER BY account_id`,
    [tenant, accounts ?? null],
  );
  return r.rows.map((p) => ({ ...p, createdAtMs: Number(p.createdAtMs) }));
}

/** Money as the statement shows it: the currency's decimals, and the exact nano beside. */
function money(nano: bigint, currency: string) {
  return { amount: formatMoney(nano, currency), nano: nano.toString() };
}

export function statementBody(f: StatementFigures, currency: string): Record<string, unknown> {
  const groups = (g: Partial<Record<string, bigint>>) =>
    Object.fromEntries(Object.entries(g).map(([k, v]) => [k, money(v!, currency)]));
  return {
    currency,
    opening_balance: money(f.openingNano, currency),
    credits: groups(f.credits),
    total_credits: money(f.creditsNano, currency),
    debits: groups(f.debits),
    usage_by_service: f.usageByService.map((u) => ({
      tor: u.tor,
      category: u.category,
      ...money(u.chargedNano, currency),
    })),
    total_debits: money(f.debitsNano, currency),
    closing_balance: money(f.closingNano, currency),
  };
}

/** One account's statement for [start, end), opening with `openingNano` when a previous one closed. */
export async function figuresFor(
  deps: StatementDeps,
  tenant: string,
  accountId: string,
  startMs: number,
  endMs: number,
  previousClosing: bigint | null,
): Promise<StatementFigures> {
  const { pool, schema } = deps;
  const before = await moneyBefore(pool, schema, tenant, accountId, startMs);
  const opening = previousClosing ?? before;
  const moves = await movesIn(pool, schema, tenant, accountId, startMs, endMs);
  if (before !== opening) moves.push({ kind: 'late', opId: 'late:', deltaNano: before - opening });
  const services = await servicesIn(pool, schema, tenant, accountId, startMs, endMs);
  return statementFigures(opening, moves, services);
}

async function produceFor(deps: StatementDeps, tenant: string, p: Profile, asOfMs: number): Promise<number> {
  let written = 0;
  let last = await lastStatement(deps.pool, deps.schema, tenant, p.accountId);
  for (;;) {
    const start = last?.periodEndMs ?? p.createdAtMs;
    const end = nextAnchor(start, p.billCycleDay, p.timezone);
    if (end + p.graceHours * 3_600_000 > asOfMs) return written;
    const f = await figuresFor(deps, tenant, p.accountId, start, end, last?.closingNano ?? null);
    const wrote = await insertStatement(deps.pool, deps.schema, {
      tenant,
      accountId: p.accountId,
      periodStartMs: start,
      periodEndMs: end,
      currency: p.currency,
      openingNano: f.openingNano,
      creditsNano: f.creditsNano,
      debitsNano: f.debitsNano,
      closingNano: f.closingNano,
      body: statementBody(f, p.currency),
    });
    if (wrote) written++;
    // Another producer may have written it first: continue from what is stored.
    last = await lastStatement(deps.pool, deps.schema, tenant, p.accountId);
  }
}

/**
 * The open period's statement so far (from where the last one ended, or the profile's start, to
 * asOf), computed as a due one would be and written nowhere; null without a prepaid profile.
 */
export async function previewStatement(
  deps: StatementDeps,
  tenant: string,
  accountId: string,
  asOfMs: number,
) {
  const [p] = await prepaidProfiles(deps, tenant, [accountId]);
  if (!p) return null;
  const last = await lastStatement(deps.pool, deps.schema, tenant, accountId);
  const start = last?.periodEndMs ?? p.createdAtMs;
  const end = Math.max(start, asOfMs);
  const f = await figuresFor(deps, tenant, accountId, start, end, last?.closingNano ?? null);
  return {
    account_id: accountId,
    start_date: new Date(start).toISOString(),
    end_date: new Date(end).toISOString(),
    period_ends: new Date(nextAnchor(start, p.billCycleDay, p.timezone)).toISOString(),
    preview: true,
    ...statementBody(f, p.currency),
  };
}

export interface StatementRunSummary {
  accounts: number;
  written: number;
}

/** Statements of every due period of the tenant's prepaid accounts (or these), as of an instant. */
export async function produceStatements(
  deps: StatementDeps,
  tenant: string,
  asOfMs: number,
  opts: { accounts?: string[]; onAccount?: (done: number, total: number) => void } = {},
): Promise<StatementRunSummary> {
  const profiles = await prepaidProfiles(deps, tenant, opts.accounts);
  let written = 0;
  for (const [i, p] of profiles.entries()) {
    written += await produceFor(deps, tenant, p, asOfMs);
    opts.onAccount?.(i + 1, profiles.length);
  }
  return { accounts: profiles.length, written };
}
