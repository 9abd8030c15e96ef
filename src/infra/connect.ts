/**
 * Redis and PostgreSQL as the configuration names them: one place, so the engine and the command
 * line find the same stores with the same settings (ports to look for, timeouts, embedded ports).
 */
import type { Config } from '../config.js';
import { connectPostgres, type PostgresHandle } from './postgres.js';
import { connectRedis, type RedisHandle } from './redis.js';

export function redisFor(config: Config): Promise<RedisHandle> {
  return connectRedis({
    ...(config.redisCluster ? { cluster: config.redisCluster } : {}),
    url: config.redisUrl,
    dataDir: config.dataDir,
    localPort: config.localRedisPort,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
}

export function postgresFor(config: Config): Promise<PostgresHandle> {
  return connectPostgres({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    localPort: config.localPostgresPort,
    embeddedPort: config.embeddedPostgresPort,
  });
}
