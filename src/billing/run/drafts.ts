/**
 * Drafts of a chunk of bills (billing.md E.3 step 4), from a cut-off's snapshot: membership SQL for
 * usage, adjustments and applied charges, lines per bill, then the core's document arithmetic. The
 * run writes the outcome (insertDraft) and the preview only returns it: one code path for both.
 */
import type { PoolClient } from 'pg';
import { buildDocument, type DocumentFigures } from '../core/document.js';
import { localDate } from '../core/periods.js';
import type { BillingAccount, Seller, TaxTables } from './accounts.js';
import { billLines, ParkError, type TaxContext } from './lines.js';
import { chargesOf, usageOf, type BillWindow, type ChargeRow, type UsageSum } from './membership.js';

export interface Bill extends BillWindow {
  account: BillingAccount;
}

export type DraftOutcome =
  | { bill: Bill; kind: 'draft'; figures: DocumentFigures }
  | { bill: Bill; kind: 'empty' }
  | { bill: Bill; kind: 'parked'; code: string; message: string };

export interface DraftContext {
  seller: Seller;
  taxes: TaxTables;
  /** Bills with nothing on them get a zero document (BILLING_ZERO_INVOICES) instead of being skipped. */
  zeroInvoices: boolean;
}

/**
 * The tax point of a bill: the last local day of its period (not the finalization date), so the
 * same bill drafted again — by a rerun, or by a preview — is taxed alike.
 */
export function taxPoint(bill: Bill): string {
  return localDate(new Date(bill.periodEnd).getTime() - 1, bill.account.timezone);
}

interface Found {
  usage: Map<string, UsageSum[]>;
  charges: Map<string, ChargeRow[]>;
}

function draftOne(bill: Bill, usage: Found, ctx: DraftContext): DraftOutcome {
  const a = bill.account;
  const key = `${a.accountId}\n${bill.seq}`;
  const tax: TaxContext = {
    mapping: a.taxProfile ? (ctx.taxes.profiles.get(a.taxProfile) ?? null) : null,
    rates: ctx.taxes.rates,
    date: taxPoint(bill),
  };
  try {
    if (a.taxProfile && !tax.mapping) throw new ParkError('NO_TAX_RATE', `no tax profile ${a.taxProfile}`);
    const lines = billLines(usage.usage.get(key) ?? [], usage.charges.get(key) ?? [], a.currency, tax);
    if (lines.length === 0 && !ctx.zeroInvoices) return { bill, kind: 'empty' };
    const figures = buildDocument(lines, {
      currency: a.currency,
      mode: ctx.seller.roundingMode,
      exempt: a.exempt,
      ...(a.legalText ? { legalText: a.legalText } : {}),
    });
    return { bill, kind: 'draft', figures };
  } catch (err) {
    if (err instanceof ParkError) return { bill, kind: 'parked', code: err.code, message: err.message };
    return { bill, kind: 'parked', code: 'INTERNAL', message: (err as Error).message };
  }
}

function group<T extends { accountId: string; seq: number }>(rows: T[]): Map<string, T[]> {
  const by = new Map<string, T[]>();
  for (const r of rows) {
    const key = `${r.accountId}\n${r.seq}`;
    const list = by.get(key);
    if (list) list.push(r);
    else by.set(key, [r]);
  }
  return by;
}

/** Reads the bills' rows from the snapshot (one statement per source) and drafts each bill. */
export async function draftBills(
  snapshot: PoolClient,
  schema: string,
  tenant: string,
  bills: Bill[],
  ctx: DraftContext,
): Promise<DraftOutcome[]> {
  const usage = await usageOf(snapshot, schema, tenant, bills);
  return draftRead(bills, usage, await chargesOf(snapshot, schema, tenant, bills), ctx);
}

/** Drafts each bill from its rows already read (a chunk's own read, or the run's stage). */
export function draftRead(
  bills: Bill[],
  usage: UsageSum[],
  charges: ChargeRow[],
  ctx: DraftContext,
): DraftOutcome[] {
  const grouped = { usage: group(usage), charges: group(charges) };
  return bills.map((b) => draftOne(b, grouped, ctx));
}
