/**
 * One rated chunk of a CDR file in its own transaction, in three steps the pipeline overlaps with
 * the neighbouring chunks': open (claim the CDR ids; register the batch), charge (Redis), store
 * (rows, rejects, commit, then drop the journal). A step that fails, or a failure elsewhere, ends
 * in `fail`: the transaction rolls back and what the batch took is given back.
 */
import { refusalName } from '../balances/codes.js';
import type { PoolClient } from 'pg';
import {
  abandonBatch,
  finishBatch,
  markStored,
  newBatchId,
  ownBatch,
  registerBatch,
  type BatchAccount,
} from './batches.js';
import { chargeChunk, type Charged } from './charge.js';
import type { CdrReject } from './format.js';
import type { ImportCounters, ImportDeps } from './pipeline.js';
import {
  claimCdrs,
  claimConflicts,
  claimedCdr,
  type ClaimedCdr,
  copyRatedCdrs,
  ensurePartitions,
  markLinesDone,
  rowAt,
  storeRejects,
  unclaimCdrs,
  type ImportedFile,
} from './store.js';
import type { ChunkResult } from './chunk-result.js';
import { lockCutShared } from '../billing/run/cutoff.js';

/**
 * Why a rated CDR could not be charged, as a reject reason: the balance store's INSUFFICIENT is
 * INSUFFICIENT_CREDIT wherever an operator reads it (rejects, summaries, rerate failures).
 */
export function rejectReason(code: string): string {
  return refusalName(code);
}

/**
 * The rated_cdrs rows to store: the worker's rows with the money each CDR took (the price, unless
 * charging said otherwise), without the ones not stored. The common case (all new, all charged
 * their price) is the worker's bytes as they are.
 */
function storedRows(r: ChunkResult, taken: Charged, fresh: boolean[]): Uint8Array {
  let asIs = true;
  for (let i = 0; i < r.n && asIs; i++) asIs = fresh[i]! && taken[i] === r.costNano[i];
  if (asIs) return r.rows;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < r.n; i++) {
    const v = taken[i];
    if (!fresh[i] || typeof v !== 'number') continue;
    if (v === r.costNano[i]) parts.push(r.rows.subarray(i ? r.rowEnds[i - 1]! : 0, r.rowEnds[i]!));
    else {
      const row = rowAt(r.rows, r.rowEnds, i);
      parts.push(Buffer.from(`${row.slice(0, row.lastIndexOf('\t'))}\t${v}\n`));
    }
  }
  return Buffer.concat(parts);
}

export class ChunkTransaction {
  private readonly batchId = newBatchId();
  private accounts: BatchAccount[] = [];
  private positions: number[] = [];
  private fresh: boolean[] = [];
  /** Rows whose id was claimed before by a CDR with other content. */
  private conflicts: number[] = [];
  private taken: Charged = [];
  private registered = false;
  private done = false;

  private constructor(
    private readonly deps: ImportDeps,
    private readonly file: ImportedFile,
    private readonly r: ChunkResult,
    private readonly lastLine: number,
    private readonly c: ImportCounters,
    private readonly client: PoolClient,
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Begins the chunk's transaction: claims its CDRs (those their tenant claimed before are duplicates). */
  static async open(
    deps: ImportDeps,
    file: ImportedFile,
    r: ChunkResult,
    lastLine: number,
    c: ImportCounters,
  ): Promise<ChunkTransaction> {
    const t = performance.now();
    const tx = new ChunkTransaction(deps, file, r, lastLine, c, await deps.pool.connect());
    try {
      await tx.client.query('BEGIN');
      // Rated CDRs are billable: first the tenants' shared cut-off locks (billing/run/cutoff.ts); the
      // rows' stored_at is the COPY's statement time, after them.
      await lockCutShared(tx.client, deps.schema, r.tenants);
      await ownBatch(tx.client, tx.batchId);
      tx.fresh = await claimCdrs(tx.client, deps.schema, r.claims, r.claimEnds);
      tx.positions = tx.fresh.flatMap((isNew, i) => (isNew ? [i] : []));
      tx.conflicts = await claimConflicts(tx.client, deps.schema, r.claims, r.claimEnds, tx.fresh);
      c.duplicates += r.n - tx.positions.length - tx.conflicts.length;
    } catch (err) {
      await tx.fail();
      throw err;
    }
    c.timing.store += performance.now() - t;
    return tx;
  }

  /** Charges the new CDRs as one batch, registered first (so a crash from here on is given back). */
  async charge(): Promise<void> {
    if (this.positions.length === 0) return;
    const t = performance.now();
    const r = this.r;
    this.accounts = [...new Set(this.positions.map((i) => r.account[i]!))].map((a) => ({
      tenant: r.tenants[a]!,
      accountId: r.accountIds[a]!,
    }));
    await registerBatch(this.deps.pool, this.deps.schema, this.batchId, this.file.fileId, this.accounts);
    this.registered = true;
    this.taken = await chargeChunk(this.deps.balances, this.batchId, r, this.positions, this.now());
    this.c.timing.charge += performance.now() - t;
  }

  /** Stores the charged rows and every reject, commits, then drops the batch's journal. */
  async store(): Promise<void> {
    const t = performance.now();
    const { r, c, client, deps } = this;
    const rejects: CdrReject[] = [...r.rejects];
    for (const i of this.conflicts)
      rejects.push({
        line: r.line[i]!,
        reason: 'DUPLICATE_ID_CONFLICT',
        detail: 'a CDR of this tenant with this id and other content is stored',
        raw: r.source.slice(r.rawStart[i]!, r.rawEnd[i]!),
      });
    const refused: ClaimedCdr[] = [];
    let stored = 0;
    let chargedNano = 0;
    const charged: Record<string, number> = {};
    for (const i of this.positions) {
      const v = this.taken[i];
      if (typeof v === 'number') {
        chargedNano += v;
        const currency = r.currencies[r.account[i]!]!;
        charged[currency] = (charged[currency] ?? 0) + v;
        stored++;
        continue;
      }
      const code = rejectReason(v ?? 'NOT_CHARGED');
      rejects.push({
        line: r.line[i]!,
        reason: code,
        detail: `the account could not be charged: ${code}`,
        raw: r.source.slice(r.rawStart[i]!, r.rawEnd[i]!),
      });
      refused.push(claimedCdr(r.claims, r.claimEnds, i));
    }
    if (this.positions.length) {
      await unclaimCdrs(client, deps.schema, refused);
      await ensurePartitions(client, deps.schema, r.months);
      await copyRatedCdrs(client, deps.schema, storedRows(r, this.taken, this.fresh));
      await markStored(client, deps.schema, this.batchId);
    }
    await storeRejects(client, deps.schema, this.file.fileId, rejects);
    await markLinesDone(client, deps.schema, this.file, this.lastLine);
    await client.query('COMMIT');
    this.done = true;
    client.release();
    c.stored += stored;
    c.chargedNano += chargedNano;
    for (const [currency, nano] of Object.entries(charged))
      c.chargedNanoByCurrency[currency] = (c.chargedNanoByCurrency[currency] ?? 0) + nano;
    for (const x of rejects) c.rejected[x.reason] = (c.rejected[x.reason] ?? 0) + 1;
    if (this.registered)
      await finishBatch(deps.pool, deps.schema, deps.balances, this.batchId, this.accounts);
    c.timing.store += performance.now() - t;
  }

  /** Rolls back and gives back what was charged (or leaves it to recovery if Redis is gone too). */
  async fail(): Promise<void> {
    if (this.done) return;
    this.done = true;
    // A connection that cannot even roll back is broken: it is closed, not given back to the pool.
    const broken = await this.client.query('ROLLBACK').then(
      () => false,
      () => true,
    );
    this.client.release(broken);
    if (this.registered)
      await abandonBatch(
        this.deps.pool,
        this.deps.schema,
        this.deps.balances,
        this.batchId,
        this.accounts,
        this.now(),
      ).catch(() => undefined);
  }
}
