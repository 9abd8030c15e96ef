/**
 * Imports a CDR file: chunks of lines are rated on the worker pool (parse, subscriber, price, COPY
 * rows: the main thread never rates), then each chunk in file order, in a transaction of its own
 * (chunk.ts): its CDR ids are claimed (those claimed before are duplicates), the new CDRs charged
 * as one batch (two phases: batches.ts), and the rows, claims and rejects stored. A chunk is
 * stored while the next is charged.
 *
 * Exactly once: a CDR is charged only inside the transaction that stores it; a batch that does not
 * commit is given back (at once, or by recovery, which runs before every import). Every line ends
 * as a stored CDR, a duplicate or a reject (unclaimed, so it can be fed again after a fix).
 */
import type { Pool } from 'pg';
import type { Cluster, RedisOptions } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { BalanceStore } from '../balances/store.js';
import { recoverBatches } from './batches.js';
import { ChunkTransaction } from './chunk.js';
import { NATIVE_MAPPING, type CdrReject, type ColumnMapping } from './format.js';
import type { RatingPool } from './pool.js';
import type { Directory } from './worker.js';
import { fileFingerprint, openCdrFile } from './read.js';
import { forgetLinesDone, linesDone, type ImportedFile } from './store.js';
import type { ChunkResult } from './chunk-result.js';

export interface ImportCounters {
  /** Lines an earlier run of the same file had stored (not read again): 0 for a first run. */
  resumedAfterLine: number;
  read: number;
  stored: number;
  duplicates: number;
  rejected: Record<string, number>;
  chargedNano: number;
  /** The same money by currency (accounts are charged in their own currency). */
  chargedNanoByCurrency: Record<string, number>;
  bytesRead: number;
  /**
   * Set when the import was stopped (its signal) before the end of the file: every line up to this
   * one is done (the chunks in flight were finished), and a new run of the file goes on after it.
   */
  stoppedAfterLine?: number;
  /**
   * Where the time went, ms: waiting for the file, waiting for the pool, charging, storing (the
   * steps of neighbouring chunks overlap), and the pool's own time rating.
   */
  timing: { read: number; rate: number; charge: number; store: number; worker: number };
}

export interface ImportDeps {
  balances: BalanceStore;
  pool: Pool;
  schema: string;
  rating: RatingPool;
  now?: () => number;
}

/** Connection options a worker can rebuild (no functions, no sockets). */
const PLAIN = ['host', 'port', 'path', 'username', 'password', 'db', 'family', 'tls'] as const;

function plainOptions(o: RedisOptions): RedisOptions {
  return Object.fromEntries(PLAIN.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as RedisOptions;
}

/**
 * How the workers reach the subscribers: the store's Redis as plain options (a Cluster as its
 * masters' addresses and their options) and the key prefix.
 */
async function directoryOf(store: BalanceStore, job: string): Promise<Directory> {
  const base = { keyPrefix: store.keySpace.prefix, job };
  if (store.cluster) {
    await store.redis.ping(); // a Cluster client knows its masters once it has connected
    const masters = (store.redis as Cluster).nodes('master');
    if (masters.length === 0) throw new Error('CDR imports: the Redis Cluster has no master connected');
    const nodes = masters.map((m) => ({ host: m.options.host!, port: m.options.port! }));
    const { host: _h, port: _p, ...options } = plainOptions(masters[0]!.options);
    return { ...base, redis: options, clusterNodes: nodes };
  }
  return { ...base, redis: plainOptions((store.redis as { options?: RedisOptions }).options ?? {}) };
}

/** How far after the import's clock a CDR may start (switch clocks and time zones drift a little). */
const MAX_FUTURE_MS = 24 * 3600_000;

/** A mapping whose lines take the file's tenant when the file has no tenant column. */
export function withFileTenant(mapping: ColumnMapping, tenant: string | undefined): ColumnMapping {
  return tenant === undefined ? mapping : { ...mapping, fixed: { tenant, ...mapping.fixed } };
}

export async function importCdrFile(
  deps: ImportDeps,
  path: string,
  opts: {
    fileId?: string;
    mapping?: ColumnMapping;
    chunkBytes?: number;
    /** Lines longer than this are rejects (LINE_TOO_LONG; default 64 KiB). */
    maxLineBytes?: number;
    /** The file's tenant: what its lines mean when it has no tenant column. */
    tenant?: string;
    /** Only the file's tenant may be charged: a line naming another is a reject (TENANT_MISMATCH). */
    enforceTenant?: boolean;
    onProgress?: (c: ImportCounters) => void;
    /** Stops the import cleanly: no more chunks are read, the ones being charged are stored. */
    signal?: AbortSignal;
  } = {},
): Promise<ImportCounters> {
  const c: ImportCounters = {
    resumedAfterLine: 0,
    read: 0,
    stored: 0,
    duplicates: 0,
    rejected: {},
    chargedNano: 0,
    chargedNanoByCurrency: {},
    bytesRead: 0,
    timing: { read: 0, rate: 0, charge: 0, store: 0, worker: 0 },
  };
  const fileId = opts.fileId ?? path;
  const run: ImportedFile = { fileId, tenant: opts.tenant ?? '' };
  const mapping = withFileTenant(opts.mapping ?? NATIVE_MAPPING, opts.tenant);
  const onlyTenant = opts.enforceTenant && opts.tenant !== undefined ? { tenant: opts.tenant } : {};
  const latestMs = (deps.now ?? Date.now)() + MAX_FUTURE_MS;
  // Batches an earlier import left behind are settled first, and again at the end (an importer
  // killed just before this one started may not yet be known to be gone).
  const recover = (waitMs: number) =>
    recoverBatches(deps.pool, deps.schema, deps.balances, (deps.now ?? Date.now)(), waitMs);
  await recover(2000);
  // An earlier run of this very file (same id, same content) stored its lines up to a point.
  c.resumedAfterLine = await linesDone(deps.pool, deps.schema, run, await fileFingerprint(path));
  const file = await openCdrFile(path, {
    mapping,
    skipUntilLine: c.resumedAfterLine,
    ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
    ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}),
  });
  const directory = await directoryOf(deps.balances, randomUUID());
  // Chunks are read and rated ahead, up to `depth` in flight, refilled as each is rated, while
  // earlier ones are charged and stored in order.
  const ahead: Ahead[] = [];
  const depth = deps.rating.threads + 3;
  let more = true;
  // A file that cannot be read on (a truncated gzip, a disk error) fails the import once the
  // chunks read before it are stored.
  let readError: unknown = null;
  let reading: Promise<void> | null = null;
  const fill = (): Promise<void> =>
    (reading ??= (async () => {
      while (more && ahead.length < depth && !opts.signal?.aborted) {
        const t = performance.now();
        const n = await file.chunks.next();
        c.timing.read += performance.now() - t;
        if (n.done) {
          more = false;
          break;
        }
        const chunk = n.value;
        const rated = deps.rating.rateChunk({
          directory,
          bytes: chunk.bytes,
          firstLine: chunk.firstLine,
          index: file.index,
          columns: file.columns,
          mapping,
          ...onlyTenant,
          latestMs,
          fileId,
        });
        rated.catch(() => undefined); // awaited in order by nextRated
        ahead.push({
          rated,
          rejects: chunk.rejects,
          bytesRead: chunk.bytesRead,
          lastLine: chunk.firstLine + chunk.lines - 1,
        });
      }
    })()
      .catch((err: unknown) => {
        readError = err;
        more = false;
      })
      .finally(() => (reading = null)));
  let stopped = false;
  const nextRated = async (): Promise<Rated | null> => {
    // Chunks only rated so far have charged nothing: stopping drops them.
    if (opts.signal?.aborted && (more || ahead.length > 0)) {
      stopped = true;
      return null;
    }
    while (ahead.length === 0 && more) await fill();
    const head = ahead.shift();
    if (!head) {
      if (readError) throw readError;
      return null;
    }
    void fill();
    const t = performance.now();
    const r = await head.rated;
    r.rejects.push(...head.rejects); // lines the reader refused (too long)
    c.timing.rate += performance.now() - t;
    c.timing.worker += r.timing.total;
    c.read += r.n + r.rejects.length;
    return { r, bytesRead: head.bytesRead, lastLine: head.lastLine };
  };
  let lastLineDone = c.resumedAfterLine;
  try {
    await pipelineChunks(deps, run, c, nextRated, (bytesRead, lastLine) => {
      c.bytesRead = bytesRead;
      lastLineDone = lastLine;
      opts.onProgress?.(c);
    });
  } finally {
    file.close();
  }
  // A stopped import keeps its checkpoint, so the next run goes on after it.
  if (stopped) c.stoppedAfterLine = lastLineDone;
  else await forgetLinesDone(deps.pool, deps.schema, run);
  await recover(0);
  return c;
}

/** A chunk being rated, with the lines the reader refused and how far into the file it reaches. */
interface Ahead {
  rated: Promise<ChunkResult>;
  rejects: CdrReject[];
  bytesRead: number;
  lastLine: number;
}

/** A rated chunk, with how far into the file it reaches. */
interface Rated {
  r: ChunkResult;
  bytesRead: number;
  lastLine: number;
}

/**
 * Overlaps the chunks' steps: chunk k is stored (PostgreSQL) while chunk k+1 is claimed and charged
 * (Redis); charges stay in file order. A claim that meets an id of the chunk being stored waits for
 * its commit and finds it a duplicate. On a failure the chunks in flight roll back (what they took
 * is given back) and the error is thrown.
 */
async function pipelineChunks(
  deps: ImportDeps,
  file: ImportedFile,
  c: ImportCounters,
  nextRated: () => Promise<Rated | null>,
  stored: (bytesRead: number, lastLine: number) => void,
): Promise<void> {
  const first = await nextRated();
  if (!first) return;
  let cur = {
    tx: await ChunkTransaction.open(deps, file, first.r, first.lastLine, c),
    bytesRead: first.bytesRead,
    lastLine: first.lastLine,
  };
  let charging = cur.tx.charge();
  for (;;) {
    try {
      await charging;
    } catch (err) {
      await cur.tx.fail();
      throw err;
    }
    const storing = cur.tx.store();
    storing.catch(() => undefined); // awaited below
    let next: typeof cur | null = null;
    try {
      const n = await nextRated();
      if (n) {
        next = {
          tx: await ChunkTransaction.open(deps, file, n.r, n.lastLine, c),
          bytesRead: n.bytesRead,
          lastLine: n.lastLine,
        };
        charging = next.tx.charge();
        charging.catch(() => undefined); // awaited at the top of the loop
      }
      await storing;
    } catch (err) {
      await storing.catch(() => undefined);
      await cur.tx.fail();
      if (next) {
        await charging.catch(() => undefined);
        await next.tx.fail();
      }
      throw err;
    }
    stored(cur.bytesRead, cur.lastLine);
    if (!next) return;
    cur = next;
  }
}
