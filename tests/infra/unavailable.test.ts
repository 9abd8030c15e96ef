/** Which errors mean "Redis or PostgreSQL is not answering" (wait and try again), from the real clients. */
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isUnavailable } from '../../src/infra/unavailable.js';

describe('isUnavailable', () => {
  it('knows a PostgreSQL and a Redis that do not answer, and not a request that is wrong', async () => {
    const closedPort = 1; // nothing listens there
    const client = new pg.Client({ host: '127.0.0.1', port: closedPort, connectionTimeoutMillis: 2000 });
    const pgErr = await client.connect().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isUnavailable(pgErr)).toBe(true);

    const redis = new Redis({
      port: closedPort,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined); // what it says is the rejection below
    const redisErr = await redis.connect().then(
      () => null,
      (e: unknown) => e,
    );
    redis.disconnect();
    expect(isUnavailable(redisErr)).toBe(true);
    const down = new Redis({
      port: closedPort,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    down.on('error', () => undefined);
    const commandErr = await down.get('x').then(
      () => null,
      (e: unknown) => e,
    );
    down.disconnect();
    expect(isUnavailable(commandErr)).toBe(true);

    const ok = new pg.Pool({
      connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    });
    const sqlErr = await ok.query('SELECT * FROM no_such_table').then(
      () => null,
      (e: unknown) => e,
    );
    await ok.end();
    expect(isUnavailable(sqlErr)).toBe(false);
    expect(isUnavailable(new Error('the header lacks subscriber'))).toBe(false);
    // A slot that moved in a failover (the replies ioredis hands on when its map was stale).
    expect(isUnavailable(new Error('MOVED 3999 127.0.0.1:7001'))).toBe(true);
    expect(isUnavailable(new Error('ASK 3999 127.0.0.1:7001'))).toBe(true);
    expect(isUnavailable(new Error('ERR unknown command MOVED'))).toBe(false);
  });
});
