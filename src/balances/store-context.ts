/**
 * What the parts of the balance store share: the Redis client, the key space, the clock, and the
 * keys of each account (its hash tag comes from the directory: a shared group's, or its own).
 */
import type { Cluster, Redis } from 'ioredis';
import { accountDirectoryKey, accountKeys, tagOf, type AccountKeys, type KeySpace } from './keys.js';

export interface BalanceStoreOptions {
  redis: Redis | Cluster;
  /** Prepended to every key (tests use a random one per run). */
  keyPrefix: string;
  /** How long an operation id's first result is kept. Default 7 days. */
  idempotencySeconds?: number;
  /** The clock, passed in so tests can freeze it. */
  now?: () => number;
}

export type StoreContext = ReturnType<typeof createStoreContext>;

export function createStoreContext(opts: BalanceStoreOptions) {
  const redis = opts.redis;
  /** A Cluster keeps the service keys (hints, index, outbox marks) in other slots than an account. */
  const cluster = 'isCluster' in redis && redis.isCluster;
  const ks: KeySpace = { prefix: opts.keyPrefix };
  const retention = opts.idempotencySeconds ?? 7 * 86400;
  const now = opts.now ?? Date.now;

  const directoryKey = (tenant: string, id: string) => accountDirectoryKey(ks, tenant, id);

  /** An account's keys, remembered (its tag never changes: a shared group is fixed at creation). */
  const known = new Map<string, AccountKeys>();

  async function keysOf(tenant: string, id: string): Promise<AccountKeys> {
    const k = `${tenant}\u0000${id}`;
    let keys = known.get(k);
    if (!keys)
      keys = remember(tenant, id, (await redis.get(directoryKey(tenant, id))) ?? tagOf(tenant, id, null));
    return keys;
  }

  function remember(tenant: string, id: string, tag: string): AccountKeys {
    const keys = accountKeys(ks, tag, id);
    if (known.size >= 1_000_000) known.clear();
    known.set(`${tenant}\u0000${id}`, keys);
    return keys;
  }

  /** Many GETs: MGETs of a thousand keys, or (on a Cluster, keys in many slots) pipelined GETs. */
  async function getMany(keys: string[]): Promise<(string | null)[]> {
    if (cluster) return Promise.all(keys.map((k) => redis.get(k)));
    const parts = [];
    for (let i = 0; i < keys.length; i += 1000) parts.push(redis.mget(keys.slice(i, i + 1000)));
    return (await Promise.all(parts)).flat();
  }

  function keyList(k: AccountKeys, opId: string): string[] {
    return [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, k.op(opId)];
  }

  return {
    redis,
    cluster,
    ks,
    retention,
    now,
    directoryKey,
    keysOf,
    remember,
    getMany,
    keyList,
    /** The keys of an account already looked up, or undefined. */
    knownKeys: (tenant: string, id: string): AccountKeys | undefined => known.get(`${tenant}\u0000${id}`),
    forget: (tenant: string, id: string) => known.delete(`${tenant}\u0000${id}`),
  };
}
