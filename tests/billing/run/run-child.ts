/**
 * A billing run in a process of its own, for tests that kill it at a step boundary:
 *   node --import tsx tests/billing/run/run-child.ts
 * with REDIS_URL, DATABASE_URL, KEY_PREFIX, DB_SCHEMA, AS_OF, NOW_MS, CHUNK and BILLING_FAULT in the environment.
 */
import pg from 'pg';
import { runBilling } from '../../../src/billing/run/run.js';
import { redisFromEnv } from '../../support/redis.js';
import { runDeps } from './support.js';

const env = (k: string) => process.env[k] ?? '';
const redis = redisFromEnv();
const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 4 });
try {
  const deps = {
    ...runDeps(pool, env('DB_SCHEMA'), redis, env('KEY_PREFIX'), Number(env('NOW_MS'))),
    chunkSize: Number(env('CHUNK')),
  };
  const s = await runBilling(deps, { tenant: 'acme', asOf: new Date(env('AS_OF')) });
  process.stdout.write(`${JSON.stringify(s)}\n`);
} finally {
  await pool.end();
  await redis.quit();
}
