/**
 * Real Redis for tests: REDIS_URL or 127.0.0.1:6379, a random key prefix per test file, every key
 * under it deleted afterwards. A missing server fails the test (it never skips).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';

export function redisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function testRedis(): { redis: Redis; prefix: string; connect: () => Redis } {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  const connect = () => {
    const c = new Redis(redisUrl(), { maxRetriesPerRequest: 1, connectTimeout: 2000 });
    clients.push(c);
    return c;
  };
  const redis = connect();
  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  });
  return { redis, prefix, connect };
}
