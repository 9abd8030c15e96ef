/**
 * Every key under a test's prefix with its type, value and whether it expires, so a test can say that
 * a refused request changed nothing in Redis (compare a dump before with one after). Three round
 * trips whatever the number of keys: a scan, then the types, then the values.
 */
import type { Redis } from 'ioredis';

const READ: Record<string, (key: string) => [string, ...string[]]> = {
  string: (k) => ['get', k],
  hash: (k) => ['hgetall', k],
  set: (k) => ['smembers', k],
  zset: (k) => ['zrange', k, '0', '-1', 'WITHSCORES'],
  list: (k) => ['lrange', k, '0', '-1'],
  stream: (k) => ['xrange', k, '-', '+'],
};

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

/** Replies of a pipeline, failing on the first error. */
async function all(redis: Redis, commands: [string, ...string[]][]): Promise<unknown[]> {
  const replies = (await redis.pipeline(commands).exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export async function dumpKeys(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys = await keysUnder(redis, prefix);
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
