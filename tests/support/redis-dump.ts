/**
 * Every key under a test's prefix with its type, value and TTL presence, so a test can say that a
 * refused request changed nothing in Redis (compare a dump before with one after).
 */
import type { Redis } from 'ioredis';

async function valueOf(redis: Redis, key: string, type: string): Promise<unknown> {
  switch (type) {
    case 'string':
      return redis.get(key);
    case 'hash':
      return Object.entries(await redis.hgetall(key)).sort();
    case 'set':
      return (await redis.smembers(key)).sort();
    case 'zset':
      return redis.zrange(key, '0', '-1', 'WITHSCORES');
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'stream':
      return redis.xrange(key, '-', '+');
    default:
      return `<${type}>`;
  }
}

export async function dumpKeys(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  const dump: Record<string, unknown> = {};
  for (const key of keys.sort()) {
    const type = await redis.type(key);
    dump[key] = { type, value: await valueOf(redis, key, type), expires: (await redis.pttl(key)) >= 0 };
  }
  return dump;
}
