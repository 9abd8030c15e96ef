/**
 * Sealing: drafts in memory become issued documents — numbered from their locked series, dated,
 * canonical JSON and hash chained per series — with their journal entries and postings. Pure
 * arithmetic over rows already read (finalize.ts) or just built (issue.ts): both paths seal alike,
 * so a document finalized from a stored draft and one issued at once are hash-equal.
 */
import { daysFromCivil, isoDate, localDate } from '../core/local-time.js';
import { canonicalInvoice, type LineForCanonical } from './canonical.js';
import type { JournalEntry } from './journal.js';
import { DocumentError, type FinalizedInvoice } from './model.js';
import { nextTurn } from '../../infra/turns.js';
import { takeNumber, type SeriesState } from './series.js';

export interface SealDraft {
  id: string;
  accountId: string;
  documentType: 'invoice' | 'statement';
  series: string;
  timezone: string;
  terms: number;
  periodStart: Date;
  periodEnd: Date;
  currency: string;
  subtotalNano: string;
  discountNano: string;
  taxNano: string;
  totalNano: string;
  seller: unknown;
  buyer: unknown;
  taxSummary: { rate: string | null; baseNano: string; taxNano: string; legalText?: string }[];
}

export type SealLine = Omit<LineForCanonical, 'amountNano' | 'taxNano'> & {
  amountNano: string;
  exactNano: string;
  taxNano: string;
};

export interface Sealed {
  id: string;
  number: string;
  hash: string;
  issueDate: string;
  dueDate: string;
  json: string;
  prev: string | null;
}

export interface SealResult {
  done: Sealed[];
  entries: JournalEntry[];
  posted: FinalizedInvoice[];
}

function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return isoDate(daysFromCivil(y, m, d) + days);
}

/** Only the rounding line is not money that already moved in Redis (usage, fees, one-offs…). */
export const ledgerBacked = (lines: { kind: string; exactNano: string }[]) =>
  lines.filter((l) => l.kind !== 'rounding').reduce((s, l) => s + BigInt(l.exactNano.split('.')[0]!), 0n);

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Numbers go in (series, local issue year, account id, id) order. */
function numberingOrder<T extends { d: SealDraft; issueDate: string }>(xs: T[]): T[] {
  return xs.sort(
    (a, b) =>
      cmp(a.d.series, b.d.series) ||
      cmp(a.issueDate.slice(0, 4), b.issueDate.slice(0, 4)) ||
      cmp(a.d.accountId, b.d.accountId) ||
      cmp(a.d.id, b.d.id),
  );
}

function sealOne(d: SealDraft, ls: SealLine[], issueDate: string, s: SeriesState): Sealed {
  const { number } = takeNumber(s, Number(issueDate.slice(0, 4)));
  const dueDate = addDays(issueDate, d.terms);
  const c = canonicalInvoice(
    {
      ...d,
      number,
      issueDate,
      dueDate,
      startDate: localDate(d.periodStart.getTime(), d.timezone),
      endDate: localDate(d.periodEnd.getTime() - 1, d.timezone),
      subtotalNano: BigInt(d.subtotalNano),
      discountNano: BigInt(d.discountNano),
      taxNano: BigInt(d.taxNano),
      totalNano: BigInt(d.totalNano),
    },
    ls.map((l) => ({ ...l, amountNano: BigInt(l.amountNano), taxNano: BigInt(l.taxNano) })),
    s.lastHash,
  );
  const sealed = { id: d.id, number, hash: c.hash, issueDate, dueDate, json: c.text, prev: s.lastHash };
  s.lastHash = c.hash;
  return sealed;
}

/** Documents sealed between two turns of the event loop (a run's chunk seals 1,000: ~0.1-0.3 s). */
const SEALS_PER_TURN = 20;

/**
 * Seals the drafts (their series locked by the caller, in `series`), advancing the series state in
 * memory: the caller writes the documents, saves the series and the journal in one transaction.
 * Yields to the event loop every SEALS_PER_TURN documents: a chunk's hashing would otherwise hold
 * the engine's charging for its whole length (the state is this call's own, nothing else touches it).
 */
export async function sealDrafts(
  tenant: string,
  series: Map<string, SeriesState>,
  drafts: SealDraft[],
  lines: Map<string, SealLine[]>,
  at: Date,
  actor: string,
): Promise<SealResult> {
  const dated = numberingOrder(drafts.map((d) => ({ d, issueDate: localDate(at.getTime(), d.timezone) })));
  const out: SealResult = { done: [], entries: [], posted: [] };
  for (const [k, { d, issueDate }] of dated.entries()) {
    if (k > 0 && k % SEALS_PER_TURN === 0) await nextTurn();
    const s = series.get(d.series);
    if (!s) throw new DocumentError('CONFLICT', `invoice ${d.id} changed series while finalizing`);
    const ls = lines.get(d.id) ?? [];
    const x = sealOne(d, ls, issueDate, s);
    out.done.push(x);
    out.entries.push({
      tenant,
      documentId: d.id,
      accountId: d.accountId,
      action: 'finalized',
      event: 'invoice.finalized',
      actor,
      at,
      detail: {
        number: x.number,
        documentType: d.documentType,
        total: d.totalNano,
        currency: d.currency,
        hash: x.hash,
      },
    });
    out.posted.push({
      id: d.id,
      tenant,
      accountId: d.accountId,
      documentType: d.documentType,
      number: x.number,
      currency: d.currency,
      totalNano: BigInt(d.totalNano),
      ledgerBackedNano: ledgerBacked(ls),
    });
  }
  return out;
}
