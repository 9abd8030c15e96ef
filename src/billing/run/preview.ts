/**
 * Preview of an account's next invoice (billing.md E.4 `POST /v1/accounts/{id}/invoices/preview`):
 * the draft the run would build for its earliest bill not drafted yet, with the cut-off at asOf
 * (or now) — the same cut-off barrier, membership SQL and document arithmetic as the run, in a
 * snapshot that is rolled back: no writes, no number.
 */
import type { Pool } from 'pg';
import { accountsChunk, sellerOf, taxTablesOf } from './accounts.js';
import { advance } from './bill-periods.js';
import { cutOff, endSnapshot } from './cutoff.js';
import { draftBills, type Bill, type DraftOutcome } from './drafts.js';
import { checkSchema } from './schema.js';

export class PreviewError extends Error {
  constructor(
    readonly code: 'ACCOUNT_NOT_FOUND' | 'AS_OF_IN_FUTURE',
    message: string,
  ) {
    super(message);
  }
}

interface PeriodRow {
  seq: number;
  start: string;
  end: string;
  status: string;
  cutoff: string | null;
}

export async function previewInvoice(
  db: { pool: Pool; schema: string; now: () => number },
  tenant: string,
  accountId: string,
  /** The cut-off: a Date, or PostgreSQL's text of an instant (a run's C keeps its microseconds). */
  asOf?: Date | string,
): Promise<DraftOutcome> {
  const s = checkSchema(db.schema);
  const account = (await accountsChunk(db.pool, s, tenant, '', 1, [accountId]))[0];
  if (!account) throw new PreviewError('ACCOUNT_NOT_FOUND', `no billing profile for account ${accountId}`);
  const asOfText = asOf instanceof Date ? asOf.toISOString() : asOf;
  if (asOfText && Date.parse(asOfText) > db.now())
    throw new PreviewError('AS_OF_IN_FUTURE', 'asOf is in the future');
  const ctx = {
    seller: await sellerOf(db.pool, s, tenant),
    taxes: await taxTablesOf(db.pool, s, tenant),
    zeroInvoices: true,
  };
  const cut = await cutOff(db.pool, s, tenant);
  try {
    const cutoffAt = asOfText ?? cut.cutoffAt;
    const r = await cut.snapshot.query<PeriodRow>(
      `SELECT seq, period_start::text AS start, period_end::text AS "end", status, cutoff_at::text AS cutoff
         FROM ${s}.bill_periods WHERE tenant = $1 AND account_id = $2 ORDER BY seq`,
      [tenant, accountId],
    );
    const rows = r.rows;
    let next = rows.find((p) => p.status === 'open' || p.status === 'closed');
    if (!next) {
      // No period yet: the first one, as the run would open it.
      const first = advance(account, undefined, Number.NEGATIVE_INFINITY)[0]!;
      next = {
        seq: 1,
        start: new Date(first.start).toISOString(),
        end: new Date(first.end).toISOString(),
        status: 'open',
        cutoff: null,
      };
    }
    const prev = rows.find((p) => p.seq === next.seq - 1);
    const bill: Bill = {
      account,
      accountId,
      seq: next.seq,
      periodStart: next.start,
      periodEnd: next.end,
      cutoffAt,
      prevEnd: prev?.end ?? null,
      prevCutoff: prev?.cutoff ?? null,
    };
    return (await draftBills(cut.snapshot, s, tenant, [bill], ctx))[0]!;
  } finally {
    await endSnapshot(cut, false);
  }
}
