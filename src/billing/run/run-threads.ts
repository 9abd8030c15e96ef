/**
 * Billing runs in a worker thread of their own (run-thread.ts), started on the first run and kept:
 * the engine's thread answers charging while a run drafts and seals 100,000 invoices (in the same
 * thread, a run held a debit up to tens of milliseconds at a time). Wired as RunDeps.elsewhere, so
 * the routes, the scheduler and off-cycle bills start runs exactly as before: the same refusals
 * (RUN_IN_PROGRESS, AS_OF_IN_FUTURE, an outage's code for a 503), the same summary.
 *
 * A thread that dies ends its runs as `failed` (the lock goes with its connection; the same asOf
 * again resumes them, as after a crash), and the next run starts a new one.
 */
import type { RedisOptions } from 'ioredis';
import type { Pool } from 'pg';
import { Piscina } from 'piscina';
import type { RedisClusterConfig } from '../../config.js';
import { isCluster, type RedisClient } from '../../infra/redis.js';
import type { ReplicaWaitOptions } from '../../infra/replica-wait.js';
import { zeroCounters } from './journal.js';
import { AsOfInFutureError, RunInProgressError, type RunRequest, type RunSummary } from './run.js';

/** What the thread connects with: the engine's stores, as the engine reached them. */
export interface RunThreadData {
  databaseUrl: string;
  redis:
    | { options: Pick<RedisOptions, 'host' | 'port' | 'path' | 'username' | 'password' | 'db' | 'tls'> }
    | { cluster: RedisClusterConfig };
  commandTimeoutMs: number;
  keyPrefix: string;
  schema: string;
  replicaWait?: ReplicaWaitOptions;
  chunkSize?: number;
  zeroInvoices?: boolean;
  /** false: no reconciliation after a run (benchmarks), as RunDeps.reconcile. */
  reconcile?: boolean;
}

export type RunThreadTask = { op: 'start'; req: RunRequest } | { op: 'wait'; runId: string };

export type RunThreadAnswer =
  | { runId: string }
  | { summary: RunSummary }
  | { error: { name: string; code: string | undefined; message: string } };

/** The engine's stores as the thread should reach them (the pool's URL, the client's address). */
export function storesOf(pool: Pool, redis: RedisClient, cluster?: RedisClusterConfig) {
  const databaseUrl = pool.options.connectionString;
  if (!databaseUrl) throw new Error('billing runs in a thread need the pool to have a connection string');
  if (isCluster(redis)) {
    if (!cluster) throw new Error('billing runs in a thread need the Redis Cluster configuration');
    return { databaseUrl, redis: { cluster } };
  }
  const { host, port, path, username, password, db, tls } = redis.options;
  const options = Object.fromEntries(
    Object.entries({ host, port, path, username, password, db, tls }).filter(([, v]) => v !== undefined),
  );
  return { databaseUrl, redis: { options } };
}

function refusal(e: { name: string; code: string | undefined; message: string }): Error {
  if (e.code === 'RUN_IN_PROGRESS') return new RunInProgressError(e.message);
  if (e.code === 'AS_OF_IN_FUTURE') return new AsOfInFutureError(e.message);
  // The code travels: an outage's (ECONNREFUSED, 57P01…) is still answered 503 with Retry-After.
  return Object.assign(new Error(e.message), { name: e.name, ...(e.code ? { code: e.code } : {}) });
}

/** A summary for a run whose thread died under it (never a rejection: `done` only settles). */
function failedSummary(req: RunRequest, runId: string, why: string): RunSummary {
  return {
    runId,
    tenant: req.tenant,
    asOf: req.asOf.toISOString(),
    dryRun: req.dryRun === true,
    status: 'failed',
    counters: zeroCounters(),
    timing: { renew: 0, close: 0, stage: 0, draft: 0, finalize: 0, reconcile: 0 },
    chunks: { close: 0, draft: 0 },
    error: why,
  };
}

export function createRunThread(data: RunThreadData): {
  start: (req: RunRequest) => Promise<{ runId: string; done: Promise<RunSummary> }>;
  close: () => Promise<void>;
} {
  let pool: Piscina<RunThreadTask, RunThreadAnswer> | undefined;
  const thread = () =>
    (pool ??= new Piscina<RunThreadTask, RunThreadAnswer>({
      filename: new URL('./run-thread.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      // A run waits in its thread for its summary while others start: many tasks at once.
      concurrentTasksPerWorker: 64,
      idleTimeout: 60_000,
      workerData: data,
      // The thread runs TypeScript through tsx like the engine's.
      execArgv: ['--import', 'tsx'],
    }));

  return {
    async start(req) {
      const p = thread();
      const a = await p.run({ op: 'start', req }).catch((err: Error) => {
        // The thread itself failed (not the run): an outage-like answer, retried by the caller.
        throw Object.assign(new Error(`the billing runs thread failed: ${err.message}`), {
          code: 'ETIMEDOUT',
        });
      });
      if ('error' in a) throw refusal(a.error);
      if (!('runId' in a)) throw new Error('the billing runs thread answered a start without a run id');
      const runId = a.runId;
      const done = p.run({ op: 'wait', runId }).then(
        (w) =>
          'summary' in w
            ? w.summary
            : failedSummary(req, runId, 'error' in w ? w.error.message : 'no summary'),
        (err: Error) => failedSummary(req, runId, `the billing runs thread failed: ${err.message}`),
      );
      return { runId, done };
    },
    async close() {
      const p = pool;
      pool = undefined;
      if (p) await p.destroy();
    },
  };
}
