/**
 * A billing run (billing.md E.3): renewals, then per chunk of accounts (account_id order) close
 * periods, cut off and draft, finalize. One non-dry run per tenant at a time (a session advisory
 * lock on a connection of its own: a killed run's lock goes with its connection). Crash-safe and
 * idempotent: every step is a transaction with its journal; the same asOf again resumes the same
 * run row and redoes only what is not done, producing the same documents.
 */
import type { Pool, PoolClient } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import {
  reconcileAfterRun,
  type RunReconciliation,
  type RunReconciliationDeps,
} from '../reconcile/after-run.js';
import { accountsChunk, billable, park, sellerOf, taxTablesOf, type BillingAccount } from './accounts.js';
import { anyToClose } from './bill-periods.js';
import type { DraftContext } from './drafts.js';
import { faultPoint } from './faults.js';
import { closeRun, openRun, zeroCounters, type RunCounters } from './journal.js';
import { closeStage, openStage } from './stage.js';
import {
  anyToFinalize,
  closeStep,
  draftFromStage,
  draftStep,
  finalizeStep,
  writeStaged,
  type ChunkJob,
} from './steps.js';

type Db = Pick<PoolClient, 'query'>;

/** What B3's renewals report (renewDue); failures of an account park it. */
export interface RenewCounters {
  renewed?: number;
  feesCharged?: number;
  feesFailed?: number;
  parked?: { accountId: string; code: string; message: string }[];
}

export interface RunDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  now: () => number;
  /** Accounts per chunk (BILLING_CHUNK, default 1,000). */
  chunkSize?: number;
  /** BILLING_ZERO_INVOICES: a bill with nothing on it is still drafted (else its period is skipped). */
  zeroInvoices?: boolean;
  /** The renewals of plans due by asOf (B3's renewDue), wired by the composition root. */
  renew?: (tenant: string, asOfMs: number) => Promise<RenewCounters>;
  onProgress?: (p: RunProgress) => void;
  /** Where a reconciliation difference at the end of a run is logged (the engine's logger). */
  log?: RunReconciliationDeps['log'];
  /** false: no reconciliation after the run (benchmarks); the summary says `skipped`. Default on. */
  reconcile?: boolean;
  /**
   * Where runs go instead of this thread (the engine's: a worker thread of their own, run-threads.ts,
   * so a run never holds the event loop that answers charging). `onProgress` is not called then.
   */
  elsewhere?: (req: RunRequest) => Promise<{ runId: string; done: Promise<RunSummary> }>;
}

export interface RunProgress {
  step: 'renew' | 'chunks' | 'done';
  accountsDone: number;
  accountsTotal: number;
}

export interface RunRequest {
  tenant: string;
  asOf: Date;
  accounts?: string[];
  dryRun?: boolean;
  requestedBy?: string;
  /** Draft only (CLI --no-finalize). */
  finalize?: boolean;
}

export interface RunSummary {
  runId: string;
  tenant: string;
  asOf: string;
  dryRun: boolean;
  status: 'done' | 'failed';
  counters: RunCounters;
  /** Milliseconds spent in each step (all chunks), for benchmarks and operators. */
  timing: StepTiming;
  /** Chunks of accounts each walk read (none for a rerun of a done run: its checks found nothing to do). */
  chunks: ChunkCounts;
  /** The run's accounts and their shared groups reconciled at its end (not for a dry or failed run). */
  reconciliation?: RunReconciliation | { skipped: 'disabled' };
  error?: string;
}

export interface StepTiming {
  renew: number;
  close: number;
  /** The run's one cut-off and scan of billable rows (stage.ts). */
  stage: number;
  draft: number;
  finalize: number;
  /** Reconciliation of the run's accounts at its end (reconcile/after-run.ts). */
  reconcile: number;
}

export interface ChunkCounts {
  close: number;
  draft: number;
}

/** Runs a step and adds its wall time to the step's total. */
async function step<T>(timing: StepTiming, name: keyof StepTiming, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    timing[name] += performance.now() - t;
  }
}

export class RunInProgressError extends Error {
  readonly code = 'RUN_IN_PROGRESS';
}
export class AsOfInFutureError extends Error {
  readonly code = 'AS_OF_IN_FUTURE';
}

/** Per schema too: engines (or test files) on other schemas of one database never block each other. */
export const runLockKey = (schema: string, tenant: string) => `billing-run:${schema}:${tenant}`;

/** The tenant's run lock, or RunInProgressError; the connection holds it until `unlockRun`. */
async function lockRun(pool: Pool, schema: string, tenant: string): Promise<PoolClient> {
  const c = await pool.connect();
  try {
    const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      runLockKey(schema, tenant),
    ]);
    if (!r.rows[0]!.ok) throw new RunInProgressError(`a billing run of tenant ${tenant} is in progress`);
    return c;
  } catch (err) {
    c.release();
    throw err;
  }
}

async function unlockRun(c: PoolClient, schema: string, tenant: string): Promise<void> {
  const failed = await c.query('SELECT pg_advisory_unlock(hashtext($1))', [runLockKey(schema, tenant)]).then(
    () => undefined,
    (e: Error) => e,
  );
  c.release(failed); // a connection that could not unlock is closed: the lock goes with it
}

async function countAccounts(pool: Pool, schema: string, tenant: string, only?: string[]): Promise<number> {
  const r = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${schema}.billing_accounts WHERE tenant = $1 AND ($2::text[] IS NULL OR account_id = ANY($2::text[]))`,
    [tenant, only ?? null],
  );
  return r.rows[0]!.n;
}

async function renewStep(deps: RunDeps, req: RunRequest, counters: RunCounters): Promise<void> {
  if (!deps.renew) return;
  const r = await deps.renew(req.tenant, req.asOf.getTime());
  counters.renewed += r.renewed ?? 0;
  counters.feesCharged += r.feesCharged ?? 0;
  counters.feesFailed += r.feesFailed ?? 0;
  for (const p of r.parked ?? []) {
    await park(deps.pool, deps.schema, req.tenant, p.accountId, p.code, p.message);
    counters.parked++;
  }
}

interface ChunkRun {
  deps: RunDeps;
  req: RunRequest;
  runId: string;
  counters: RunCounters;
  timing: StepTiming;
  chunks: ChunkCounts;
}

/** Walks the run's accounts chunk by chunk (account_id order), reading through `db`; counted as `name`'s. */
function walker(
  r: ChunkRun,
  name: keyof ChunkCounts,
): (db: Db, fn: (chunk: BillingAccount[], n: number) => Promise<void>) => Promise<void> {
  const size = r.deps.chunkSize ?? 1000;
  return async (db, fn) => {
    let after = '';
    for (let n = 1; ; n++) {
      const chunk = await accountsChunk(db, r.deps.schema, r.req.tenant, after, size, r.req.accounts);
      if (chunk.length === 0) return;
      r.chunks[name]++;
      after = chunk.at(-1)!.accountId;
      await fn(chunk, n);
    }
  };
}

const jobOf = (r: ChunkRun, chunk: BillingAccount[]): ChunkJob => ({
  runId: r.runId,
  tenant: r.req.tenant,
  asOfMs: r.req.asOf.getTime(),
  accounts: billable(chunk),
  counters: r.counters,
});

/** A dry run: per chunk, periods closed, cut off and drafted in a snapshot that is rolled back. */
async function dryChunks(r: ChunkRun, ctx: DraftContext, total: number): Promise<void> {
  let done = 0;
  await walker(r, 'draft')(r.deps.pool, async (chunk) => {
    await step(r.timing, 'draft', () => draftStep(r.deps, jobOf(r, chunk), ctx, true));
    done += chunk.length;
    r.deps.onProgress?.({ step: 'chunks', accountsDone: done, accountsTotal: total });
  });
}

/**
 * A run: every chunk's periods closed; one cut-off and one scan of the billable rows for all due
 * bills (stage.ts); then per chunk, drafts from the stage and finalization. Each step of a chunk
 * commits on its own, so a rerun resumes where a killed run stopped.
 */
async function stagedChunks(r: ChunkRun, ctx: DraftContext, total: number): Promise<void> {
  const { pool, schema } = r.deps;
  const { tenant, accounts } = r.req;
  const asOfMs = r.req.asOf.getTime();
  // Nothing to close (a rerun of a done run): one statement instead of a walk over every chunk.
  if (await step(r.timing, 'close', () => anyToClose(pool, schema, tenant, asOfMs, accounts)))
    await walker(r, 'close')(pool, async (chunk, n) => {
      await step(r.timing, 'close', () => closeStep(r.deps, jobOf(r, chunk)));
      faultPoint('close', n);
    });
  const stage = await step(r.timing, 'stage', () => openStage(pool, schema, tenant, asOfMs, accounts));
  const issue = r.req.finalize !== false;
  // Nothing staged and no draft to finalize (a rerun of a done run): no walk over the chunks, whose
  // ~200 statements found nothing (3.2 of a 13.8 s rerun at 100,000 accounts).
  if (stage.staged === 0 && !(issue && (await anyToFinalize(r.deps, r.req.tenant, r.req.accounts)))) {
    await closeStage(stage);
    r.deps.onProgress?.({ step: 'chunks', accountsDone: total, accountsTotal: total });
    return;
  }
  let done = 0;
  const size = r.deps.chunkSize ?? 1000;
  /** The chunk after `after` and its drafts computed from the stage (reads only). */
  const prepare = async (after: string) => {
    const chunk = await accountsChunk(r.deps.pool, r.deps.schema, r.req.tenant, after, size, r.req.accounts);
    if (chunk.length === 0) return null;
    const job = jobOf(r, chunk);
    return { chunk, job, outcomes: await draftFromStage(job, ctx, stage) };
  };
  let next = prepare('');
  try {
    for (let n = 1; ; n++) {
      const cur = await step(r.timing, 'draft', () => next);
      if (!cur) break;
      r.chunks.draft++;
      // Chunk n+1 is read and drafted (Node, the stage's connection) while chunk n is written.
      next = prepare(cur.chunk.at(-1)!.accountId);
      next.catch(() => undefined); // awaited on the next turn, or in finally
      await step(r.timing, 'draft', () => writeStaged(r.deps, cur.job, ctx, cur.outcomes, issue));
      faultPoint('draft', n);
      if (issue) {
        await step(r.timing, 'finalize', () => finalizeStep(r.deps, cur.job));
        faultPoint('finalize', n);
      }
      done += cur.chunk.length;
      r.deps.onProgress?.({ step: 'chunks', accountsDone: done, accountsTotal: total });
    }
  } finally {
    await next.catch(() => undefined); // no read of the stage still running when it closes
    await closeStage(stage);
  }
}

async function runChunks(r: ChunkRun): Promise<void> {
  const { deps, req } = r;
  const ctx: DraftContext = {
    seller: await sellerOf(deps.pool, deps.schema, req.tenant),
    taxes: await taxTablesOf(deps.pool, deps.schema, req.tenant),
    zeroInvoices: deps.zeroInvoices === true,
  };
  const total = await countAccounts(deps.pool, deps.schema, req.tenant, req.accounts);
  if (req.dryRun === true) await dryChunks(r, ctx, total);
  else await stagedChunks(r, ctx, total);
}

/**
 * Starts a run: checks asOf, takes the tenant's lock (RunInProgressError if another run holds it),
 * records the run; `done` settles when it has finished (status done or failed, never rejects).
 */
export async function startRun(
  deps: RunDeps,
  req: RunRequest,
): Promise<{ runId: string; done: Promise<RunSummary> }> {
  if (deps.elsewhere) return deps.elsewhere(req);
  if (req.asOf.getTime() > deps.now())
    throw new AsOfInFutureError(`asOf ${req.asOf.toISOString()} is in the future`);
  const dryRun = req.dryRun === true;
  const lock = dryRun ? null : await lockRun(deps.pool, deps.schema, req.tenant);
  let runId: string;
  try {
    runId = await openRun(deps.pool, deps.schema, { ...req, requestedBy: req.requestedBy ?? 'api', dryRun });
  } catch (err) {
    if (lock) await unlockRun(lock, deps.schema, req.tenant);
    throw err;
  }
  const done = (async (): Promise<RunSummary> => {
    const counters = zeroCounters();
    const timing: StepTiming = { renew: 0, close: 0, stage: 0, draft: 0, finalize: 0, reconcile: 0 };
    const chunks: ChunkCounts = { close: 0, draft: 0 };
    const summary = {
      runId,
      tenant: req.tenant,
      asOf: req.asOf.toISOString(),
      dryRun,
      counters,
      timing,
      chunks,
    };
    try {
      if (!dryRun) {
        deps.onProgress?.({ step: 'renew', accountsDone: 0, accountsTotal: 0 });
        await step(timing, 'renew', () => renewStep(deps, req, counters));
        faultPoint('renew');
      }
      await runChunks({ deps, req, runId, counters, timing, chunks });
      await closeRun(deps.pool, deps.schema, runId, 'done', counters);
      if (dryRun) return { ...summary, status: 'done' };
      const reconciliation =
        deps.reconcile === false
          ? ({ skipped: 'disabled' } as const)
          : await step(timing, 'reconcile', () => reconcileAfterRun(deps, req.tenant, runId));
      return { ...summary, status: 'done', reconciliation };
    } catch (err) {
      const error = (err as Error).message;
      await closeRun(deps.pool, deps.schema, runId, 'failed', counters, error).catch(() => undefined);
      return { ...summary, status: 'failed', error };
    } finally {
      if (lock) await unlockRun(lock, deps.schema, req.tenant);
    }
  })();
  return { runId, done };
}

/** A whole run, awaited (CLI, scheduler, tests). */
export async function runBilling(deps: RunDeps, req: RunRequest): Promise<RunSummary> {
  return (await startRun(deps, req)).done;
}
