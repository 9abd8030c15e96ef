/**
 * A draft rebuilt now (billing.md E.4 `POST /v1/invoices/{id}/refresh`) by the run's own code: the
 * cut-off barrier (cutoff.ts) gives a new C' and its snapshot, the membership SQL and document
 * arithmetic (drafts.ts) build the bill with C' in place of the draft's C, and the draft is
 * rewritten from the run's draftInput (steps.ts). Rows stored after C whose billing time is in the
 * period join it. The bill period's `cutoff_at` moves to C' in the same transaction: the next bill
 * leaves out rows stored at or before its previous bill's cut-off, so a row taken in now is never
 * late usage there — each row stays on exactly one bill.
 *
 * Refusals, checked in this order, change nothing: no such invoice of the tenant (NOT_FOUND); not a
 * draft (INVOICE_NOT_DRAFT); a run of the tenant in progress (RUN_IN_PROGRESS: it may be drafting
 * the next bill from the old C); a later bill of the account already cut off (LATER_BILL_CUT_OFF: it
 * may hold this period's late rows, which C' would take a second time); a parked account, one without
 * documents, or a rebuild that would park it (ACCOUNT_NOT_BILLABLE: the run would not draft it either).
 */
import type { Pool, PoolClient } from 'pg';
import { DocumentError } from '../documents/model.js';
import { replaceDraft } from '../documents/drafts.js';
import { accountsChunk, billable, sellerOf, taxTablesOf } from './accounts.js';
import { cutOff, endSnapshot } from './cutoff.js';
import { draftBills, type Bill, type DraftContext, type DraftOutcome } from './drafts.js';
import { runLockKey } from './run.js';
import { checkSchema } from './schema.js';
import { draftInput } from './steps.js';

export interface RefreshDeps {
  pool: Pool;
  schema: string;
}

export interface Refreshed {
  id: string;
  accountId: string;
  billSeq: number;
  /** The draft's cut-off before and after, as PostgreSQL text (microseconds kept). */
  previousCutoffAt: string;
  cutoffAt: string;
  outcome: Extract<DraftOutcome, { kind: 'draft' }>;
}

interface PeriodRow {
  seq: number;
  start: string;
  end: string;
  status: string;
  cutoff: string | null;
  invoiceId: string | null;
}

/**
 * Takes the tenant's run lock for the caller's transaction, or refuses: a run started meanwhile
 * waits for nothing (it answers RUN_IN_PROGRESS itself) and none runs under this request.
 */
export async function lockRunIn(c: PoolClient, schema: string, tenant: string): Promise<void> {
  const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [
    runLockKey(schema, tenant),
  ]);
  if (!r.rows[0]!.ok)
    throw new DocumentError('RUN_IN_PROGRESS', `a billing run of tenant ${tenant} is in progress`);
}

/** The draft's invoice row, locked; NOT_FOUND for another tenant's id, INVOICE_NOT_DRAFT once issued. */
async function lockDraft(c: PoolClient, s: string, tenant: string, id: string) {
  const r = await c.query<{ accountId: string; billSeq: number | null; status: string }>(
    `SELECT account_id AS "accountId", bill_seq AS "billSeq", status FROM ${s}.invoices
      WHERE tenant = $1 AND id = $2 FOR UPDATE`,
    [tenant, id],
  );
  const row = r.rows[0];
  if (!row) throw new DocumentError('NOT_FOUND', `no invoice ${id}`);
  if (row.status !== 'draft') throw new DocumentError('INVOICE_NOT_DRAFT', `invoice ${id} is ${row.status}`);
  if (row.billSeq === null)
    throw new DocumentError(
      'CONFLICT',
      `invoice ${id} was not drafted from a bill period: nothing to rebuild`,
    );
  return { accountId: row.accountId, billSeq: row.billSeq };
}

/** The account's periods, locked: this draft's, the one before it, and none cut off after it. */
async function lockPeriods(
  c: PoolClient,
  s: string,
  tenant: string,
  id: string,
  accountId: string,
  seq: number,
) {
  const r = await c.query<PeriodRow>(
    `SELECT seq, period_start::text AS start, period_end::text AS "end", status, cutoff_at::text AS cutoff,
            invoice_id AS "invoiceId"
       FROM ${s}.bill_periods WHERE tenant = $1 AND account_id = $2 ORDER BY seq FOR UPDATE`,
    [tenant, accountId],
  );
  const own = r.rows.find((p) => p.seq === seq);
  if (!own || own.status !== 'drafted' || own.invoiceId !== id || own.cutoff === null)
    throw new DocumentError('CONFLICT', `invoice ${id} is not the draft of its bill period`);
  const later = r.rows.find((p) => p.seq > seq && p.cutoff !== null);
  if (later)
    throw new DocumentError(
      'LATER_BILL_CUT_OFF',
      `bill ${later.seq} of account ${accountId} is already ${later.status}: refresh it instead`,
      { billSeq: later.seq },
    );
  return { own: { ...own, cutoff: own.cutoff }, prev: r.rows.find((p) => p.seq === seq - 1) };
}

/** The bill rebuilt at a new cut-off, in its snapshot (the run's membership SQL and arithmetic). */
async function rebuild(deps: RefreshDeps, tenant: string, bill: Omit<Bill, 'cutoffAt'>, ctx: DraftContext) {
  const cut = await cutOff(deps.pool, deps.schema, tenant);
  try {
    const [outcome] = await draftBills(
      cut.snapshot,
      deps.schema,
      tenant,
      [{ ...bill, cutoffAt: cut.cutoffAt }],
      ctx,
    );
    return outcome!;
  } finally {
    await endSnapshot(cut, false);
  }
}

/**
 * Rebuilds draft `id` in the caller's transaction `c` (which commits it with the request's
 * reference): the rows are read in a cut-off's snapshot on connections of their own.
 */
export async function refreshDraft(
  deps: RefreshDeps,
  c: PoolClient,
  tenant: string,
  id: string,
  actor: string,
): Promise<Refreshed> {
  const s = checkSchema(deps.schema);
  const { accountId, billSeq } = await lockDraft(c, s, tenant, id);
  await lockRunIn(c, s, tenant);
  const { own, prev } = await lockPeriods(c, s, tenant, id, accountId, billSeq);
  const account = billable(await accountsChunk(c, s, tenant, '', 1, [accountId]))[0];
  if (!account)
    throw new DocumentError('ACCOUNT_NOT_BILLABLE', `account ${accountId} is parked or not billed`);
  // A draft exists already: an empty rebuild is still that draft (at zero), not a skipped period.
  const ctx: DraftContext = {
    seller: await sellerOf(c, s, tenant),
    taxes: await taxTablesOf(c, s, tenant),
    zeroInvoices: true,
  };
  const outcome = await rebuild(
    deps,
    tenant,
    {
      account,
      accountId,
      seq: billSeq,
      periodStart: own.start,
      periodEnd: own.end,
      prevEnd: prev?.end ?? null,
      prevCutoff: prev?.cutoff ?? null,
    },
    ctx,
  );
  if (outcome.kind !== 'draft')
    throw new DocumentError(
      'ACCOUNT_NOT_BILLABLE',
      outcome.kind === 'parked' ? outcome.message : 'nothing to bill',
      outcome.kind === 'parked' ? { reason: outcome.code } : {},
    );
  const cutoffAt = outcome.bill.cutoffAt;
  await replaceDraft(c, s, id, draftInput(tenant, outcome.bill, outcome.figures, ctx));
  await c.query(
    `UPDATE ${s}.bill_periods SET cutoff_at = $4::timestamptz WHERE tenant = $1 AND account_id = $2 AND seq = $3`,
    [tenant, accountId, billSeq, cutoffAt],
  );
  await c.query(
    `INSERT INTO ${s}.invoice_audit (tenant, document_id, action, actor, detail) VALUES ($1, $2, 'refreshed', $3, $4)`,
    [tenant, id, actor, JSON.stringify({ previousCutoffAt: own.cutoff, cutoffAt })],
  );
  return { id, accountId, billSeq, previousCutoffAt: own.cutoff, cutoffAt, outcome };
}
