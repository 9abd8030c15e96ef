/**
 * The outbox drain in its own thread (started by drain-thread.ts): the same `drainOutboxes` on the
 * same schedule, with its own Redis and PostgreSQL connections, so that reading, parsing and
 * storing the outboxes never holds the event loop that answers charging requests. Its log lines go
 * to the engine's logger in the main thread; told to stop, it finishes its drain in progress, drains
 * once more, and closes its connections.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Cluster, Redis } from 'ioredis';
import { runEvery, type PeriodicLog } from '../infra/periodic.js';
import { createPool } from '../infra/postgres.js';
import { boundedOptions, clusterOptions, type RedisClient } from '../infra/redis.js';
import { DRAIN_EVERY_MS, drainOutboxes, FULL_DRAIN_EVERY } from './outbox.js';
import type { DrainThreadData, FromDrainThread, ToDrainThread } from './drain-thread.js';

const d = workerData as DrainThreadData;
const port = parentPort!;
const post = (m: FromDrainThread) => port.postMessage(m);

const log: PeriodicLog = {
  info: (obj, msg) => post({ kind: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => post({ kind: 'log', level: 'warn', obj, msg }),
  error: (obj, msg) => post({ kind: 'log', level: 'error', obj, msg }),
};

/**
 * Its commands wait for the first connection (no outage reported while it starts) but never longer
 * than any command may wait; once connected it fails fast like the engine's own clients.
 */
function connectRedis(): RedisClient {
  const options = { ...boundedOptions(d.commandTimeoutMs), ...d.redis };
  if (!d.clusterNodes) return new Redis(options);
  return new Cluster(d.clusterNodes, {
    ...clusterOptions({ tls: Boolean(d.redis.tls) }, d.commandTimeoutMs),
    redisOptions: options,
    enableOfflineQueue: true,
  });
}

const redis = connectRedis();
redis.on('error', () => undefined); // an outage reaches the drain as failed commands (logged once)
const pool = createPool(d.postgresUrl, (line) => log.warn({}, line));

let drains = 0;
const drain = (full = false) =>
  drainOutboxes({ redis, pool, schema: d.schema, keyPrefix: d.keyPrefix, full });

const stopDrain = runEvery({
  name: 'drain to PostgreSQL',
  everyMs: d.everyMs ?? DRAIN_EVERY_MS,
  // The first drain and then every FULL_DRAIN_EVERY-th reads every outbox (a lost dirty mark).
  job: () => drain(drains++ % FULL_DRAIN_EVERY === 0),
  log,
});

post({ kind: 'ready' });

port.on('message', (m: ToDrainThread) => {
  if (m.kind !== 'stop') return;
  void (async () => {
    await stopDrain();
    const last = await drain().then(
      (stored): FromDrainThread => ({ kind: 'stopped', stored }),
      (err: unknown): FromDrainThread => ({
        kind: 'stopped',
        error: err instanceof Error ? err.message : String(err),
      }),
    );
    await redis.quit().catch(() => redis.disconnect());
    await pool.end().catch(() => undefined);
    post(last);
    port.close();
  })();
});
