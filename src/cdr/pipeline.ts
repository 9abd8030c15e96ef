/**
 * Imports a CDR file: chunks of lines are rated on the worker pool (parse, subscriber, price, COPY
 * rows: the main thread never rates), then, one chunk at a time in file order: the chunk's CDR ids
 * are claimed (those claimed before are duplicates), the new CDRs are charged as one batch (two
 * phases: batches.ts), and the rows, claims and rejects are stored in the same transaction.
 *
 * Exactly once: a CDR is charged only inside the transaction that stores it; a batch that does not
 * commit is given back (at once, or by recovery, which runs before every import). Every line ends
 * as a stored CDR, a duplicate or a reject (unclaimed, so it can be fed again after a fix).
 */
import type { Pool, PoolClient } from 'pg';
import type { RedisOptions } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { BalanceStore } from '../balances/store.js';
import {
  abandonBatch,
  finishBatch,
  markStored,
  newBatchId,
  ownBatch,
  recoverBatches,
  registerBatch,
  type BatchAccount,
} from './batches.js';
import { chargeChunk } from './charge.js';
import { NATIVE_MAPPING, type CdrReject, type ColumnMapping } from './format.js';
import type { RatingPool } from './pool.js';
import { openCdrFile } from './read.js';
import {
  claimCdrs,
  claimedId,
  copyRatedCdrs,
  ensurePartitions,
  rowAt,
  storeRejects,
  unclaimCdrs,
} from './store.js';
import type { ChunkResult } from './worker.js';

export interface ImportCounters {
  read: number;
  stored: number;
  duplicates: number;
  rejected: Record<string, number>;
  chargedNano: number;
  bytesRead: number;
  /** Where the time went, ms: reading, rating on the pool (waited for), charging, storing. */
  timing: { read: number; rate: number; charge: number; store: number };
}

export interface ImportDeps {
  balances: BalanceStore;
  pool: Pool;
  schema: string;
  rating: RatingPool;
  now?: () => number;
}

/** Why a rated CDR could not be charged, as a reject reason. */
function refusal(code: string): string {
  return code === 'INSUFFICIENT' ? 'INSUFFICIENT_CREDIT' : code;
}

/** How the workers reach the subscribers: the store's Redis (standalone options) and key prefix. */
function directoryOf(store: BalanceStore, job: string) {
  const o = (store.redis as { options?: RedisOptions }).options ?? {};
  const pick = ['host', 'port', 'path', 'username', 'password', 'db', 'family'] as const;
  const redis = Object.fromEntries(
    pick.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]),
  ) as RedisOptions;
  return { redis, keyPrefix: store.keySpace.prefix, job };
}

/**
 * The rated_cdrs rows to store: the worker's rows with the money each CDR took (the price, unless
 * charging said otherwise), without the ones not stored. The common case (all new, all charged
 * their price) is the worker's text as it is.
 */
function storedRows(r: ChunkResult, taken: (number | string | undefined)[], fresh: boolean[]): Uint8Array {
  let asIs = true;
  for (let i = 0; i < r.n && asIs; i++) asIs = fresh[i]! && taken[i] === r.costNano[i];
  if (asIs) return r.rows;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < r.n; i++) {
    const v = taken[i];
    if (!fresh[i] || typeof v !== 'number') continue;
    const from = i ? r.rowEnds[i - 1]! : 0;
    if (v === r.costNano[i]) parts.push(r.rows.subarray(from, r.rowEnds[i]!));
    else {
      const row = rowAt(r.rows, r.rowEnds, i);
      parts.push(Buffer.from(`${row.slice(0, row.lastIndexOf('\t'))}\t${v}\n`));
    }
  }
  return Buffer.concat(parts);
}

/** Claims, charges and stores one rated chunk in one transaction; counts what became of it. */
async function storeChunk(
  deps: ImportDeps,
  fileId: string,
  r: ChunkResult,
  c: ImportCounters,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const rejects: CdrReject[] = [...r.rejects];
  const batchId = newBatchId();
  const client: PoolClient = await deps.pool.connect();
  let accounts: BatchAccount[] = [];
  let charged = false;
  let stored = 0;
  try {
    let t = performance.now();
    await client.query('BEGIN');
    await ownBatch(client, batchId);
    const fresh = await claimCdrs(client, deps.schema, r.claims, r.claimEnds);
    const positions = fresh.flatMap((isNew, i) => (isNew ? [i] : []));
    c.duplicates += r.n - positions.length;
    c.timing.store += performance.now() - t;
    t = performance.now();
    if (positions.length) {
      accounts = [...new Set(positions.map((i) => r.account[i]!))].map((a) => ({
        tenant: r.tenants[a]!,
        accountId: r.accountIds[a]!,
      }));
      await registerBatch(deps.pool, deps.schema, batchId, fileId, accounts);
      charged = true;
      const taken = await chargeChunk(deps.balances, batchId, r, positions, now());
      c.timing.charge += performance.now() - t;
      t = performance.now();
      const refused: string[] = [];
      for (const i of positions) {
        const v = taken[i];
        if (typeof v === 'number') {
          c.chargedNano += v;
          stored++;
          continue;
        }
        const code = refusal(v ?? 'NOT_CHARGED');
        const raw = r.source.slice(r.rawStart[i]!, r.rawEnd[i]!);
        rejects.push({
          line: r.line[i]!,
          reason: code,
          detail: `the account could not be charged: ${code}`,
          raw,
        });
        refused.push(claimedId(r.claims, r.claimEnds, i));
      }
      await unclaimCdrs(client, deps.schema, refused);
      await ensurePartitions(client, deps.schema, r.months);
      await copyRatedCdrs(client, deps.schema, storedRows(r, taken, fresh));
      await markStored(client, deps.schema, batchId);
    }
    await storeRejects(client, deps.schema, fileId, rejects);
    await client.query('COMMIT');
    c.timing.store += performance.now() - t;
    c.stored += stored;
    for (const x of rejects) c.rejected[x.reason] = (c.rejected[x.reason] ?? 0) + 1;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Nothing of the batch was stored: what it took goes back now (or, if Redis is gone too, by
    // recovery once this transaction has ended).
    if (charged)
      await abandonBatch(deps.pool, deps.schema, deps.balances, batchId, accounts, now()).catch(
        () => undefined,
      );
    throw err;
  } finally {
    client.release();
  }
  if (charged) await finishBatch(deps.pool, deps.schema, deps.balances, batchId, accounts);
}

export async function importCdrFile(
  deps: ImportDeps,
  path: string,
  opts: {
    fileId?: string;
    mapping?: ColumnMapping;
    chunkBytes?: number;
    onProgress?: (c: ImportCounters) => void;
  } = {},
): Promise<ImportCounters> {
  const c: ImportCounters = {
    read: 0,
    stored: 0,
    duplicates: 0,
    rejected: {},
    chargedNano: 0,
    bytesRead: 0,
    timing: { read: 0, rate: 0, charge: 0, store: 0 },
  };
  const fileId = opts.fileId ?? path;
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  await recoverBatches(deps.pool, deps.schema, deps.balances, (deps.now ?? Date.now)());
  const file = await openCdrFile(path, {
    mapping,
    ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
  });
  const directory = directoryOf(deps.balances, randomUUID());
  // Chunks are rated ahead (bounded) while earlier ones are charged and stored, in order.
  const ahead: { rated: Promise<ChunkResult>; bytesRead: number }[] = [];
  const depth = deps.rating.threads + 1;
  const next = async () => {
    const t = performance.now();
    const n = await file.chunks.next();
    c.timing.read += performance.now() - t;
    if (n.done) return false;
    const chunk = n.value;
    const rated = deps.rating.rateChunk({
      directory,
      bytes: chunk.bytes,
      firstLine: chunk.firstLine,
      index: file.index,
      mapping,
      fileId,
    });
    rated.catch(() => undefined); // awaited in order below
    ahead.push({ rated, bytesRead: chunk.bytesRead });
    return true;
  };
  let more = true;
  while (more && ahead.length < depth) more = await next();
  while (ahead.length) {
    const head = ahead.shift()!;
    const t = performance.now();
    const r = await head.rated;
    c.timing.rate += performance.now() - t;
    if (more) more = await next();
    c.read += r.n + r.rejects.length;
    await storeChunk(deps, fileId, r, c);
    c.bytesRead = head.bytesRead;
    opts.onProgress?.(c);
  }
  return c;
}
