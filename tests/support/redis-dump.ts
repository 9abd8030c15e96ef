/**
 * Every key under a test's prefix with its type, value and whether it expires, so a test can say that
 * a refused request changed nothing in Redis (compare a dump before with one after). Three round
 * trips whatever the number of keys: a scan, then the types, then the values (on a Cluster, a
 * scan of every master).
 */
import { scanKeys, type RedisClient } from './redis.js';

const READ: Record<string, (key: string) => [string, ...string[]]> = {
  string: (k) => ['get', k],
  hash: (k) => ['hgetall', k],
  set: (k) => ['smembers', k],
  zset: (k) => ['zrange', k, '0', '-1', 'WITHSCORES'],
  list: (k) => ['lrange', k, '0', '-1'],
  stream: (k) => ['xrange', k, '-', '+'],
};

/**
 * On a Cluster a subscription is claimed in its own slot before the account lists it
 * (src/balances/identity.ts): a claim version (`{s:…}:v`) and fences (`:subfence:`) that must only
 * grow, so a refused request may move them; they claim nothing (the directory key is untouched).
 * A create first writes the account's tag (`{d:T:ID}`, in its own slot) and a refused one leaves it
 * (identity.ts says why that is harmless). "Changes nothing" on a Cluster is said of every other key.
 */
export function isClusterBookkeeping(key: string): boolean {
  return /\{s:[^}]*\}:v$/.test(key) || /\}:subfence:/.test(key) || /\{d:[^}]*\}$/.test(key);
}

/**
 * Replies of the commands, failing on the first error: one pipeline on one server; on a Cluster
 * (whose pipelines must stay on one node) one command each, batched per node by auto-pipelining.
 */
async function all(redis: RedisClient, commands: [string, ...string[]][]): Promise<unknown[]> {
  if ('isCluster' in redis && redis.isCluster)
    return Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args)));
  const replies = (await redis.pipeline(commands).exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export async function dumpKeys(redis: RedisClient, prefix: string): Promise<Record<string, unknown>> {
  const cluster = 'isCluster' in redis && redis.isCluster;
  const keys = (await scanKeys(redis, `${prefix}*`)).filter((k) => !cluster || !isClusterBookkeeping(k));
  const meta = await all(
    redis,
    keys.flatMap((k): [string, ...string[]][] => [
      ['type', k],
      ['pttl', k],
    ]),
  );
  const types = keys.map((_, i) => meta[2 * i] as string);
  const values = await all(
    redis,
    keys.map((k, i) => READ[types[i]!]?.(k) ?? ['type', k]),
  );
  const dump: Record<string, unknown> = {};
  keys.forEach((k, i) => {
    const value = types[i] === 'set' ? (values[i] as string[]).sort() : values[i];
    dump[k] = { type: types[i], value, expires: (meta[2 * i + 1] as number) >= 0 };
  });
  return dump;
}
