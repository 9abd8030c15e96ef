/**
 * What the CDR commands work on: the engine's Redis and PostgreSQL found as `npm start` finds them
 * (REDIS_URL, DATABASE_URL, KEY_PREFIX, DB_SCHEMA, TARIFF_DIR… from the environment), the CDR
 * tables, and a rating pool when the command prices CDRs. Closed whatever the command did.
 */
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { createBalanceStore, type BalanceStore } from '../balances/store.js';
import { createRatingPool, type RatingPool } from '../cdr/pool.js';
import { ensureCdrSchema } from '../cdr/store.js';
import { loadConfig, type Config } from '../config.js';
import { postgresFor, redisFor } from '../infra/connect.js';
import { underSchemaLock } from '../storage/migrate.js';

export interface Engine {
  config: Config;
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  rating: RatingPool;
}

export async function withEngine<T>(run: (e: Engine) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const redis = await redisFor(config);
  const pg = await postgresFor(config);
  process.stderr.write(`balances: ${redis.description}\nhistory:  ${pg.description}\n`);
  const rating = createRatingPool({
    tariffDir: config.tariffDir,
    ...(config.tariffTimezone ? { timezone: config.tariffTimezone } : {}),
  });
  try {
    await underSchemaLock(pg.pool, config.dbSchema, () => ensureCdrSchema(pg.pool, config.dbSchema));
    const balances = createBalanceStore({
      redis: redis.redis,
      keyPrefix: config.keyPrefix,
      replicaWait: config.redisWait,
    });
    return await run({ config, pool: pg.pool, schema: config.dbSchema, balances, rating });
  } finally {
    await rating.close();
    await redis.stop();
    await pg.stop();
  }
}

/** PostgreSQL alone (reading what imports stored). */
export async function withHistory<T>(run: (pool: Pool, schema: string) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const pg = await postgresFor(config);
  try {
    await underSchemaLock(pg.pool, config.dbSchema, () => ensureCdrSchema(pg.pool, config.dbSchema));
    return await run(pg.pool, config.dbSchema);
  } finally {
    await pg.stop();
  }
}
