/**
 * A rerate in a process of its own, for tests that kill it part way:
 *   node --import tsx tests/support/rerate-child.ts FROM TO
 * with REDIS_URL (or REDIS_CLUSTER_NODES), DATABASE_URL, KEY_PREFIX, DB_SCHEMA, TARIFF_DIR and BATCH_SIZE in the environment.
 */
import pg from 'pg';
import { createBalanceStore } from '../../src/balances/store.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { rerateCdrs } from '../../src/cdr/rerate.js';
import { redisFromEnv } from './redis.js';

const [from, to] = process.argv.slice(2) as [string, string];
const env = (k: string) => process.env[k] ?? '';
const redis = redisFromEnv();
const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 4 });
const rating = createRatingPool({ tariffDir: env('TARIFF_DIR'), threads: 1 });
try {
  await rerateCdrs(
    {
      pool,
      schema: env('DB_SCHEMA'),
      rating,
      balances: createBalanceStore({ redis, keyPrefix: env('KEY_PREFIX') }),
    },
    { from, to, batchSize: Number(env('BATCH_SIZE')) },
  );
} finally {
  await rating.close();
  await pool.end();
  await redis.quit();
}
