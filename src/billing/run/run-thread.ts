/**
 * The billing runs' thread (run-threads.ts starts it on piscina, the engine's way to run work off
 * its thread): a PostgreSQL pool and a Redis client of its own on the engine's stores, and the same
 * run code (run.ts) as everywhere else. The engine's thread, which answers charging, asks for a run
 * and reads back its id, then its summary: the run's CPU work (drafting, sealing, COPY rows,
 * postings) never holds it.
 */
import { Cluster, Redis } from 'ioredis';
import { workerData } from 'piscina';
import { createBalanceStore } from '../../balances/store.js';
import { createPool } from '../../infra/postgres.js';
import { clusterOptions, failFastOptions } from '../../infra/redis.js';
import { renewDue } from '../plans/renewals.js';
import { startRun, type RunDeps, type RunSummary } from './run.js';
import type { RunThreadData, RunThreadTask, RunThreadAnswer } from './run-threads.js';

let deps: RunDeps | undefined;

/** The thread's stores, made on its first task. */
function depsOf(d: RunThreadData): RunDeps {
  if (deps) return deps;
  const pool = createPool(d.databaseUrl, (line) => process.stderr.write(`billing runs thread: ${line}\n`));
  const redis =
    'cluster' in d.redis
      ? new Cluster(d.redis.cluster.nodes, clusterOptions(d.redis.cluster, d.commandTimeoutMs))
      : new Redis({ ...d.redis.options, ...failFastOptions(d.commandTimeoutMs) });
  redis.on('error', () => undefined); // the engine's own client reports outages; a run fails and says why
  const balances = createBalanceStore({
    redis,
    keyPrefix: d.keyPrefix,
    ...(d.replicaWait ? { replicaWait: d.replicaWait } : {}),
  });
  return (deps = {
    pool,
    schema: d.schema,
    balances,
    now: Date.now,
    ...(d.chunkSize ? { chunkSize: d.chunkSize } : {}),
    ...(d.zeroInvoices ? { zeroInvoices: d.zeroInvoices } : {}),
    ...(d.reconcile === false ? { reconcile: false } : {}),
    renew: (tenant, asOfMs) => renewDue({ pool, schema: d.schema, balances, now: Date.now }, tenant, asOfMs),
    log: {
      warn: (obj, msg) =>
        process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj, thread: 'billing runs' })}\n`),
    },
  });
}

/** Runs started here and not yet waited for, by id. */
const running = new Map<string, Promise<RunSummary>>();

/** `start`: a run started (its id, or the refusal's code); `wait`: its summary once it ends. */
export default async function task(t: RunThreadTask): Promise<RunThreadAnswer> {
  if (t.op === 'wait') {
    const done = running.get(t.runId);
    running.delete(t.runId);
    if (!done) return { error: { name: 'Error', code: undefined, message: `no run ${t.runId} here` } };
    return { summary: await done };
  }
  try {
    const { runId, done } = await startRun(depsOf(workerData as RunThreadData), t.req);
    running.set(runId, done);
    return { runId };
  } catch (err) {
    const e = err as { name?: string; code?: unknown; message?: string };
    return {
      error: {
        name: e.name ?? 'Error',
        code: typeof e.code === 'string' ? e.code : undefined,
        message: e.message ?? String(err),
      },
    };
  }
}
