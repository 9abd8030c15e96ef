/**
 * Real Redis for tests: REDIS_URL or 127.0.0.1:6379, a random key prefix per test file, every key
 * under it deleted afterwards. A missing server fails the test (it never skips).
 *
 * With TEST_REDIS_CLUSTER_NODES=host:port,… the same tests run on that Redis Cluster instead
 * (docs/SCALE-OUT.md, "The test suite on a Cluster"): `testRedis()` hands out Cluster clients, the
 * processes a test starts get REDIS_CLUSTER_NODES (`redisEnv()`), and a test that needs one plain
 * server (SELECT, killing it, a private redis-server) skips itself (`onCluster`, `NOT_ON_CLUSTER`).
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll } from 'vitest';
import type { RedisClient } from '../../src/infra/redis.js';

export type { RedisClient };

export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** The Cluster the suite runs on, if TEST_REDIS_CLUSTER_NODES names one. */
export function clusterNodes(): { host: string; port: number }[] | undefined {
  const list = process.env.TEST_REDIS_CLUSTER_NODES?.trim();
  if (!list) return undefined;
  return list.split(',').map((n) => {
    const m = /^\s*(.+):(\d+)\s*$/.exec(n);
    if (!m) throw new Error(`TEST_REDIS_CLUSTER_NODES must list host:port, got ${n}`);
    return { host: m[1]!, port: Number(m[2]) };
  });
}

/** True when the suite runs on a Redis Cluster (TEST_REDIS_CLUSTER_NODES). */
export const onCluster = clusterNodes() !== undefined;

/** The reason a test that needs one plain Redis server gives for skipping on a Cluster. */
export const NOT_ON_CLUSTER = (why: string) => `not on a Cluster (TEST_REDIS_CLUSTER_NODES): ${why}`;

/** What a process a test starts needs in its environment to reach the same Redis. */
export function redisEnv(): { REDIS_URL: string } | { REDIS_CLUSTER_NODES: string } {
  const nodes = clusterNodes();
  return nodes
    ? { REDIS_CLUSTER_NODES: nodes.map((n) => `${n.host}:${n.port}`).join(',') }
    : { REDIS_URL: redisUrl() };
}

/** A client as the environment names it: REDIS_CLUSTER_NODES (a Cluster) or REDIS_URL (child processes). */
export function redisFromEnv(env: NodeJS.ProcessEnv = process.env): RedisClient {
  const list = env.REDIS_CLUSTER_NODES?.trim();
  if (!list) return new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const nodes = list.split(',').map((n) => {
    const [host, port] = [n.slice(0, n.lastIndexOf(':')), n.slice(n.lastIndexOf(':') + 1)];
    return { host: host.trim(), port: Number(port) };
  });
  return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 2 } });
}

function connectTest(): RedisClient {
  const nodes = clusterNodes();
  if (!nodes) return new Redis(redisUrl(), { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  const cluster = new Cluster(nodes, {
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2000 },
    // A command sent while the slot map is being read waits for it (as a plain client waits to connect).
    enableOfflineQueue: true,
  });
  // Once connected, fail fast as the engine's client does: a command sent after `disconnect()` (a
  // test's lost Redis) would otherwise wait in the offline queue for ever.
  cluster.once('ready', () => (cluster.options.enableOfflineQueue = false));
  return cluster;
}

/**
 * Every key matching `pattern`: on a Cluster, of every master (SCAN sees one node's keys).
 * Sorted, so tests can compare lists.
 */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  if (redis instanceof Cluster && redis.status !== 'ready')
    await new Promise((ok) => redis.once('ready', ok));
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys.sort();
}

/**
 * Deletes keys one command each (a Cluster refuses a multi-key command across slots; auto-pipelining
 * batches them per node).
 */
export async function deleteKeys(redis: RedisClient, keys: string[]): Promise<void> {
  if (!(redis instanceof Cluster)) {
    for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
    return;
  }
  await Promise.all(keys.map((k) => redis.unlink(k)));
}

export function testRedis(): { redis: RedisClient; prefix: string; connect: () => RedisClient } {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const clients: RedisClient[] = [];
  const connect = () => {
    const c = connectTest();
    clients.push(c);
    return c;
  };
  const redis = connect();
  afterAll(async () => {
    await deleteKeys(redis, await scanKeys(redis, `${prefix}*`));
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  });
  return { redis, prefix, connect };
}
