/**
 * Runs the outbox drain (outbox.ts) in a worker thread of its own (drain-worker.ts) instead of on
 * the event loop that answers requests. A drain reads a batch of entries from Redis, parses them
 * and stores them in PostgreSQL: on the main thread that was ~8 % of its busy time at 4 charging
 * connections, plus the garbage it left for the request path's scavenges, and every request in
 * flight waited whenever a drain held the loop (bench/RESULTS.md, issue 12).
 *
 * Same guarantees as before: entries are stored in PostgreSQL before they leave Redis (the same
 * `drainOutboxes`), the same schedule, an outage backs off and is logged once (periodic.ts, through
 * the engine's logger), and `stop()` ends with a last drain before the engine closes its stores. A
 * thread that dies unexpectedly is logged and started again.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Pool } from 'pg';
import type { Cluster, RedisOptions } from 'ioredis';
import type { PeriodicLog } from '../infra/periodic.js';
import { isCluster, type RedisClient } from '../infra/redis.js';

/** What the thread needs to find the stores (plain data: it crosses to another thread). */
export interface DrainThreadData {
  redis: RedisOptions;
  /** A Cluster: its masters' addresses (`redis` then holds the options every node shares). */
  clusterNodes?: { host: string; port: number }[];
  commandTimeoutMs?: number;
  postgresUrl: string;
  schema: string;
  keyPrefix: string;
  /** Default DRAIN_EVERY_MS (tests slow it down to see what the last drain stores). */
  everyMs?: number;
}

export type ToDrainThread = { kind: 'stop' };
export type FromDrainThread =
  | { kind: 'ready' }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { kind: 'stopped'; stored?: number; error?: string };

/** How the last drain went: entries stored, or why it failed (the next start stores the rest). */
export type LastDrain = { stored: number } | { error: string };

export interface DrainThread {
  /**
   * Resolves once the thread has loaded its code. The engine listens only then: loading it takes
   * a second or two of CPU, which requests arriving meanwhile would wait out.
   */
  ready: Promise<void>;
  /** Stops the schedule, waits for the drain in progress, drains once more, closes its connections. */
  stop(): Promise<LastDrain>;
}

/** Connection options a thread can rebuild (no functions, no sockets). */
const PLAIN = ['host', 'port', 'path', 'username', 'password', 'db', 'family', 'tls'] as const;

function plainOptions(o: RedisOptions): RedisOptions {
  return Object.fromEntries(PLAIN.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as RedisOptions;
}

/** Where the engine's Redis is, as plain data; a Cluster must have connected (its masters known). */
export function redisWhere(redis: RedisClient): Pick<DrainThreadData, 'redis' | 'clusterNodes'> {
  if (!isCluster(redis)) return { redis: plainOptions(redis.options) };
  const masters = (redis as Cluster).nodes('master');
  if (masters.length === 0) throw new Error('the outbox drain: the Redis Cluster has no master connected');
  const { host: _h, port: _p, ...shared } = plainOptions(masters[0]!.options);
  return {
    redis: shared,
    clusterNodes: masters.map((m) => ({ host: m.options.host!, port: m.options.port! })),
  };
}

/** The connection string of the engine's PostgreSQL pool. */
export function postgresUrlOf(pool: Pool): string {
  const url = (pool as unknown as { options: { connectionString?: string } }).options.connectionString;
  if (!url) throw new Error('the outbox drain needs a PostgreSQL pool made from a connection string');
  return url;
}

const WORKER = fileURLToPath(new URL('./drain-worker.ts', import.meta.url));
const TSX_CJS = createRequire(import.meta.url).resolve('tsx/cjs/api');

export function startDrainThread(data: DrainThreadData, log: PeriodicLog): DrainThread {
  let stopping = false;
  let worker: Worker;
  let last: Promise<LastDrain>;
  let exited: Promise<unknown>;
  let loaded: () => void;
  const ready = new Promise<void>((ok) => (loaded = ok));

  const start = () => {
    // It runs TypeScript through tsx, like the engine. On Node 20 tsx's import() hooks do not reach
    // a worker thread's modules; its require() hooks, registered in the thread, do.
    const boot = `require(${JSON.stringify(TSX_CJS)}).register(); require(${JSON.stringify(WORKER)});`;
    worker = new Worker(boot, { eval: true, workerData: data });
    exited = new Promise((ok) => worker.once('exit', ok));
    let told: (l: LastDrain) => void;
    last = new Promise((ok) => (told = ok));
    worker.on('message', (m: FromDrainThread) => {
      if (m.kind === 'ready') loaded();
      else if (m.kind === 'log') log[m.level](m.obj, m.msg);
      else told(m.error !== undefined ? { error: m.error } : { stored: m.stored ?? 0 });
    });
    worker.on('error', (err) => log.error({ err }, 'drain to PostgreSQL: the thread failed'));
    worker.on('exit', (code) => {
      if (stopping)
        return told({ error: `the drain thread ended (exit code ${code}) before its last drain` });
      log.error({ code }, 'drain to PostgreSQL: the thread ended; starting it again');
      last = Promise.resolve({ error: `the drain thread ended (exit code ${code})` });
      setTimeout(() => stopping || start(), 1000).unref();
    });
  };
  start();

  return {
    ready,
    async stop() {
      stopping = true;
      worker.postMessage({ kind: 'stop' } satisfies ToDrainThread);
      const result = await last;
      await exited;
      return result;
    },
  };
}
