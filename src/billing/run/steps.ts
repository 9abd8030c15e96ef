/**
 * The run's per-chunk steps (billing.md E.3 steps 2-5), each one PostgreSQL transaction with its
 * journal rows: close periods; cut off and draft; finalize. A step done is never redone: periods
 * move open → closed → drafted|skipped → finalized, and each step only picks its own status.
 */
import type { Pool, PoolClient } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { finalizeIn } from '../documents/finalize.js';
import type { DocumentFigures } from '../core/document.js';
import { insertDrafts } from '../documents/drafts.js';
import { issuable, issueDrafts } from '../documents/issue.js';
import type { DraftInput } from '../documents/model.js';
import { nextTurn } from '../../infra/turns.js';
import { inTransaction } from '../documents/transaction.js';
import { BILLABLE_SQL, park, type BillingAccount } from './accounts.js';
import { closePeriods } from './bill-periods.js';
import { cutOff, endSnapshot } from './cutoff.js';
import { draftBills, draftRead, type Bill, type DraftContext, type DraftOutcome } from './drafts.js';
import { writeItems, type RunCounters, type RunItem } from './journal.js';
import { postpaidPosting } from './posting.js';
import { checkSchema } from './schema.js';
import { dueBills } from './due-bills.js';
import { readStage, type Stage } from './stage.js';

export interface StepDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

export interface ChunkJob {
  runId: string;
  tenant: string;
  asOfMs: number;
  accounts: BillingAccount[];
  counters: RunCounters;
}

export async function closeStep(d: StepDeps, job: ChunkJob): Promise<void> {
  job.counters.periodsClosed += await inTransaction(d.pool, (c) =>
    closePeriods(c, d.schema, job.tenant, job.accounts, job.asOfMs),
  );
}

interface PeriodUpdate {
  accountId: string;
  seq: number;
  status: 'drafted' | 'skipped' | 'finalized';
  cutoffAt: string;
  invoiceId: string | null;
  reason: string | null;
}

/** The chunk's bill periods drafted or skipped, in one statement. */
async function updatePeriods(
  db: PoolClient,
  schema: string,
  tenant: string,
  ps: PeriodUpdate[],
): Promise<void> {
  if (ps.length === 0) return;
  await db.query(
    `UPDATE ${checkSchema(schema)}.bill_periods p SET status = x.status, cutoff_at = x.cutoff_at, invoice_id = x.invoice_id,
            skip_reason = x.reason
       FROM unnest($2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::uuid[], $7::text[])
         AS x(account_id, seq, status, cutoff_at, invoice_id, reason)
      WHERE p.tenant = $1 AND p.account_id = x.account_id AND p.seq = x.seq`,
    [
      tenant,
      ps.map((x) => x.accountId),
      ps.map((x) => x.seq),
      ps.map((x) => x.status),
      ps.map((x) => x.cutoffAt),
      ps.map((x) => x.invoiceId),
      ps.map((x) => x.reason),
    ],
  );
}

/** What the chunk writes: its drafts (in one batch), the periods' new status and the journal items. */
interface ChunkWrites {
  /** Each draft with its journal item, already in `items` in outcome order (its id filled in after). */
  drafts: { input: DraftInput; bill: Bill; item: RunItem }[];
  periods: PeriodUpdate[];
  items: RunItem[];
}

const periodOf = (
  bill: Bill,
  status: PeriodUpdate['status'],
  invoiceId: string | null,
  reason: string | null,
) => ({
  accountId: bill.accountId,
  seq: bill.seq,
  status,
  cutoffAt: bill.cutoffAt,
  invoiceId,
  reason,
});

/** The draft the run writes for a bill (and a refresh rewrites): the account's profile as it is now. */
export function draftInput(
  tenant: string,
  bill: Bill,
  figures: DocumentFigures,
  ctx: DraftContext,
): DraftInput {
  const a = bill.account;
  return {
    tenant,
    accountId: a.accountId,
    billSeq: bill.seq,
    documentType: a.invoiceMode === 'statement' ? 'statement' : 'invoice',
    periodStart: new Date(bill.periodStart),
    periodEnd: new Date(bill.periodEnd),
    cutoffAt: new Date(bill.cutoffAt),
    currency: a.currency,
    seller: ctx.seller.party,
    buyer: a.buyer,
    figures,
    timezone: a.timezone,
    paymentTermsDays: a.paymentTermsDays,
    ...(a.series ? { series: a.series } : {}),
  };
}

/** Sorts one outcome into the chunk's writes (parking an account at once: it is rare). */
async function planOutcome(
  snapshot: PoolClient,
  schema: string,
  job: ChunkJob,
  o: DraftOutcome,
  ctx: DraftContext,
  w: ChunkWrites,
): Promise<void> {
  const { bill } = o;
  const accountId = bill.accountId;
  if (o.kind === 'parked') {
    await park(snapshot, schema, job.tenant, accountId, o.code, o.message);
    job.counters.parked++;
    w.items.push({ accountId, step: 'draft', outcome: 'parked', code: o.code, message: o.message });
  } else if (o.kind === 'empty') {
    w.periods.push(periodOf(bill, 'skipped', null, 'empty'));
    job.counters.skipped++;
    w.items.push({ accountId, step: 'draft', outcome: 'skipped', code: 'EMPTY' });
  } else {
    const item: RunItem = { accountId, step: 'draft', outcome: 'invoiced' };
    w.items.push(item);
    w.drafts.push({ input: draftInput(job.tenant, bill, o.figures, ctx), bill, item });
  }
}

/**
 * How a chunk's documents are written: as drafts (a dry run, --no-finalize), or issued at once for
 * accounts that auto-finalize (issue.ts: one transaction for the chunk's drafts and finalization,
 * no draft row written then read back and updated), with their postpaid postings.
 */
export type WriteMode = { issue: false } | { issue: true; balances: BalanceStore };

/** Splits the chunk's drafts: those issued at once, the others written as drafts. */
function splitIssued(job: ChunkJob, w: ChunkWrites, mode: WriteMode) {
  if (!mode.issue) return { issued: [], drafted: w.drafts };
  const auto = new Set(job.accounts.filter((a) => a.autoFinalize).map((a) => a.accountId));
  const now = (x: ChunkWrites['drafts'][number]) => auto.has(x.bill.accountId) && issuable(x.input);
  return { issued: w.drafts.filter(now), drafted: w.drafts.filter((x) => !now(x)) };
}

/** Issues the chunk's auto-finalized drafts at once; their periods go straight to finalized. */
async function issueChunk(
  c: PoolClient,
  schema: string,
  job: ChunkJob,
  xs: ChunkWrites['drafts'],
  w: ChunkWrites,
  balances: BalanceStore,
) {
  if (xs.length === 0) return;
  const postpaid = new Set(job.accounts.filter((a) => a.accountType === 'postpaid').map((a) => a.accountId));
  const r = await issueDrafts(
    c,
    schema,
    job.tenant,
    xs.map((x) => x.input),
    new Date(job.asOfMs),
    { hooks: postpaidPosting(balances, postpaid), actor: 'run' },
  );
  xs.forEach(({ bill, item }, i) => {
    w.periods.push(periodOf(bill, 'finalized', r.ids[i]!, null));
    item.invoiceId = r.ids[i]!;
    item.step = 'finalize';
  });
  job.counters.drafted += r.ids.length;
  job.counters.finalized += r.finalized.length;
}

/** The chunk's drafts in one batch (or issued), then the periods and the journal items (in outcome order). */
async function writeChunk(
  snapshot: PoolClient,
  schema: string,
  job: ChunkJob,
  w: ChunkWrites,
  mode: WriteMode = { issue: false },
): Promise<void> {
  const { issued, drafted } = splitIssued(job, w, mode);
  if (mode.issue) await issueChunk(snapshot, schema, job, issued, w, mode.balances);
  const ids = await insertDrafts(
    snapshot,
    schema,
    drafted.map((x) => x.input),
  );
  drafted.forEach(({ bill, item }, i) => {
    w.periods.push(periodOf(bill, 'drafted', ids[i]!, null));
    item.invoiceId = ids[i]!;
  });
  job.counters.drafted += ids.length;
  await updatePeriods(snapshot, schema, job.tenant, w.periods);
  await writeItems(snapshot, schema, job.runId, job.tenant, w.items);
}

/**
 * The cut-off barrier, then the chunk's drafts from its snapshot, written in the snapshot's own
 * transaction (committed, or rolled back for a dry run: the same code path writes nothing).
 */
export async function draftStep(
  d: StepDeps,
  job: ChunkJob,
  ctx: DraftContext,
  dryRun: boolean,
): Promise<void> {
  const cut = await cutOff(d.pool, d.schema, job.tenant);
  let ok = false;
  try {
    if (dryRun)
      job.counters.periodsClosed += await closePeriods(
        cut.snapshot,
        d.schema,
        job.tenant,
        job.accounts,
        job.asOfMs,
      );
    const bills = await dueBills(cut.snapshot, d.schema, job.tenant, job.accounts, job.asOfMs, cut.cutoffAt);
    const outcomes = await draftBills(cut.snapshot, d.schema, job.tenant, bills, ctx);
    const w: ChunkWrites = { drafts: [], periods: [], items: [] };
    for (const o of outcomes) await planOutcome(cut.snapshot, d.schema, job, o, ctx, w);
    await writeChunk(cut.snapshot, d.schema, job, w);
    ok = !dryRun;
  } finally {
    await endSnapshot(cut, ok);
  }
}

/** Bills drafted between two turns of the event loop. */
const DRAFTS_PER_TURN = 25;

/** The chunk's drafts computed from the run's stage (reads only: the run computes chunk k+1's while writing chunk k). */
export async function draftFromStage(
  job: ChunkJob,
  ctx: DraftContext,
  stage: Stage,
): Promise<DraftOutcome[]> {
  if (job.accounts.length === 0) return [];
  const read = await readStage(stage, job.accounts);
  // In slices with a turn of the event loop between them: the engine's charging waits no longer than one.
  const out: DraftOutcome[] = [];
  for (let i = 0; i < read.bills.length; i += DRAFTS_PER_TURN) {
    if (i > 0) await nextTurn();
    out.push(...draftRead(read.bills.slice(i, i + DRAFTS_PER_TURN), read.usage, read.charges, ctx));
  }
  return out;
}

/**
 * The chunk's drafts (from the run's stage: one cut-off and one scan for the whole run, stage.ts)
 * written in a transaction of their own — issued at once when the run finalizes (`issue`).
 */
export async function writeStaged(
  d: StepDeps,
  job: ChunkJob,
  ctx: DraftContext,
  outcomes: DraftOutcome[],
  issue = false,
): Promise<void> {
  if (outcomes.length === 0) return;
  await inTransaction(d.pool, async (c) => {
    const w: ChunkWrites = { drafts: [], periods: [], items: [] };
    for (const o of outcomes) await planOutcome(c, d.schema, job, o, ctx, w);
    await writeChunk(c, d.schema, job, w, issue ? { issue, balances: d.balances } : { issue });
  });
}

/** Finalizes the chunk's drafts (auto-finalize accounts), numbering, hashing and posting them. */
export async function finalizeStep(d: StepDeps, job: ChunkJob): Promise<void> {
  const auto = job.accounts.filter((a) => a.autoFinalize).map((a) => a.accountId);
  if (auto.length === 0) return;
  const postpaid = new Set(job.accounts.filter((a) => a.accountType === 'postpaid').map((a) => a.accountId));
  const s = checkSchema(d.schema);
  await inTransaction(d.pool, async (c) => {
    const r = await c.query<{ account_id: string; invoice_id: string }>(
      `SELECT account_id, invoice_id FROM ${s}.bill_periods
        WHERE tenant = $1 AND account_id = ANY($2::text[]) AND status = 'drafted' ORDER BY account_id, seq`,
      [job.tenant, auto],
    );
    if (r.rows.length === 0) return;
    const ids = r.rows.map((x) => x.invoice_id);
    const done = await finalizeIn(c, d.schema, job.tenant, ids, new Date(job.asOfMs), {
      hooks: postpaidPosting(d.balances, postpaid),
      actor: 'run',
    });
    // Finalized now, or before a crash that came between finalization and this update.
    const u = await c.query<{ account_id: string; invoice_id: string }>(
      `UPDATE ${s}.bill_periods p SET status = 'finalized' FROM ${s}.invoices i
        WHERE p.tenant = $1 AND p.invoice_id = ANY($2::uuid[]) AND i.id = p.invoice_id AND i.status <> 'draft'
        RETURNING p.account_id, p.invoice_id`,
      [job.tenant, ids],
    );
    job.counters.finalized += done.finalized.length;
    await writeItems(
      c,
      d.schema,
      job.runId,
      job.tenant,
      u.rows.map((x) => ({
        accountId: x.account_id,
        step: 'finalize',
        outcome: 'invoiced',
        invoiceId: x.invoice_id,
      })),
    );
  });
}

/**
 * Whether any billable auto-finalize account of the run has a draft to finalize (left by a
 * --no-finalize run, or one killed between its drafts and their finalization).
 */
export async function anyToFinalize(d: StepDeps, tenant: string, only?: string[]): Promise<boolean> {
  const s = checkSchema(d.schema);
  const r = await d.pool.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${s}.bill_periods p JOIN ${s}.billing_accounts a USING (tenant, account_id)
        WHERE p.tenant = $1 AND p.status = 'drafted' AND a.auto_finalize AND ${BILLABLE_SQL}
          AND ($2::text[] IS NULL OR p.account_id = ANY($2::text[]))) AS any`,
    [tenant, only ?? null],
  );
  return r.rows[0]!.any;
}
