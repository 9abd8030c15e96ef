/**
 * The rating pool: piscina workers that each load the tariff once and rate chunks of CDR files (or
 * events, for rerating), with a bounded queue (a full queue makes the reader wait: back-pressure;
 * the main thread never rates).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ChunkResult } from './chunk-result.js';
import type { RerateChunkResult, RerateRequest, RerateTask } from './rerate-worker.js';
import type { ChunkTask, RateOutcome, RateTask } from './worker.js';

export type ChunkRequest = Omit<ChunkTask, 'kind' | 'tariffDir' | 'timezone' | 'version'>;

export interface RatingPool {
  rate(events: RateTask['events']): Promise<RateOutcome[]>;
  /** Rates a chunk of file lines; its bytes are moved to the worker (unusable here after). */
  rateChunk(chunk: ChunkRequest): Promise<ChunkResult>;
  /** Prices stored CDRs again and keeps what changed (rerate-worker.ts, in the same threads). */
  rerateChunk(rows: RerateRequest): Promise<RerateChunkResult>;
  /** Workers load the tariff again from their next task on (after a tariff change). */
  reload(): void;
  /** Workers in the pool (chunks in flight worth keeping). */
  readonly threads: number;
  close(): Promise<void>;
}

const RERATE_WORKER = new URL('./rerate-worker.ts', import.meta.url).href;

export function createRatingPool(opts: {
  tariffDir: string;
  timezone?: string;
  threads?: number;
  maxQueue?: number;
}): RatingPool {
  const threads = opts.threads ?? Math.max(1, availableParallelism() - 1);
  const pool = new Piscina({
    filename: new URL('./worker.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    maxQueue: opts.maxQueue ?? threads * 4,
    // Workers run TypeScript through tsx like the main thread.
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.RATING_WORKER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []),
    ],
  });
  pool.setMaxListeners(0); // every caller waiting for room listens for 'drain'
  let version = 1;
  const tariff = () => ({ tariffDir: opts.tariffDir, timezone: opts.timezone, version });
  /** Waits for room in the queue rather than fail on a full one; the check and the run are one step. */
  async function submit<T>(
    task: RateTask | ChunkTask | RerateTask,
    transferList?: ArrayBuffer[],
    filename?: string,
  ): Promise<T> {
    while (pool.queueSize >= pool.options.maxQueue) await new Promise((r) => pool.once('drain', r));
    return pool.run(task, { ...(transferList ? { transferList } : {}), ...(filename ? { filename } : {}) });
  }
  return {
    threads,
    rate: (events) => submit({ ...tariff(), events } satisfies RateTask),
    rateChunk: (chunk) => submit({ ...tariff(), kind: 'chunk', ...chunk } satisfies ChunkTask, [chunk.bytes]),
    rerateChunk: (rows) =>
      submit({ ...tariff(), kind: 'rerate', ...rows } satisfies RerateTask, undefined, RERATE_WORKER),
    reload() {
      version++;
    },
    close: () => pool.destroy(),
  };
}
