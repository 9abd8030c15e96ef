/**
 * The usage rollup beside the CDR pipeline: the same import alone and with the rollup running every
 * second (as the engine runs it every 10 s, but busier), side by side; the rollup's own rate (rows
 * folded per second when catching up a whole import); and its lag while the import runs.
 *
 *   npx tsx bench/usage-rollup.ts [-- --lines 200000 --subscribers 10000 --rounds 2]
 *
 * Uses REDIS_URL / DATABASE_URL (defaults: local) under a private key prefix and schema, removed after.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createBalanceStore } from '../src/balances/store.js';
import { generateCdrFile } from '../src/cdr/generate.js';
import { importCdrFile } from '../src/cdr/pipeline.js';
import { createRatingPool } from '../src/cdr/pool.js';
import { ensureCdrSchema } from '../src/cdr/store.js';
import { ensureRecordsSchema } from '../src/storage/records.js';
import { rollupLagSeconds, rollupOnce } from '../src/usage/rollup.js';
import { ensureUsageSchema } from '../src/usage/schema.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    subscribers: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
  },
});
const LINES = Number(values.lines);
const SUBSCRIBERS = Number(values.subscribers);
const ROUNDS = Number(values.rounds);
const id = randomBytes(3).toString('hex');
const prefix = `bench-rollup-${id}:`;
const schema = `bench_rollup_${id}`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 8,
});
const rating = createRatingPool({ tariffDir: 'tariffs/sample' });
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const f = (n: number) => Math.round(n).toLocaleString('en');
const files: string[] = [];

async function fund(): Promise<void> {
  for (let i = 1; i <= SUBSCRIBERS; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, SUBSCRIBERS - i + 1) }, async (_, k) => {
        const n = i + k;
        await balances.createAccount(
          {
            tenant: 'acme',
            id: `b${n}`,
            type: 'prepaid',
            currency: 'GBP',
            subject: `b${n}`,
            subscriptions: [{ type: 'msisdn', value: `4477009${String(n).padStart(5, '0')}` }],
          },
          'c',
        );
        await balances.addBalance('acme', `b${n}`, { id: 'main', unit: 'money', value: 1e15 }, 'b');
      }),
    );
}

/** One import of a fresh file (new CDR ids each time), in CDRs/s. */
async function importOnce(seed: number): Promise<number> {
  const file = join(tmpdir(), `bench-rollup-${id}-${seed}.csv`);
  files.push(file);
  await generateCdrFile(file, { lines: LINES, seed, subscribers: SUBSCRIBERS });
  const t = performance.now();
  const c = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: file });
  return c.read / ((performance.now() - t) / 1000);
}

/** The rollup until nothing is left: rows folded per second. */
async function catchUp(): Promise<{ rows: number; rate: number }> {
  const t = performance.now();
  let rows = 0;
  for (;;) {
    const r = await rollupOnce(pool, schema);
    rows += r.cdrs;
    if (r.cdrs === 0 && r.ran) break;
  }
  return { rows, rate: rows / ((performance.now() - t) / 1000) };
}

try {
  console.log(
    `calib ${calibrate()} Miter/s; ${rating.threads} rating worker(s); ${f(LINES)} CDRs per import`,
  );
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureUsageSchema(pool, schema);
  await fund();
  let seed = 100;
  await importOnce(seed++); // warm-up: partitions, JIT, pool threads
  await catchUp();
  const alone: number[] = [];
  const beside: number[] = [];
  let maxLag = 0;
  let catchRate = 0;
  for (let round = 0; round < ROUNDS; round++) {
    alone.push(await importOnce(seed++));
    catchRate = Math.max(catchRate, (await catchUp()).rate);
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        await rollupOnce(pool, schema);
        maxLag = Math.max(maxLag, (await rollupLagSeconds(pool, schema)) ?? 0);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    beside.push(await importOnce(seed++));
    stop = true;
    await loop;
    await catchUp();
    console.log(
      `round ${round + 1}: alone ${f(alone.at(-1)!)} CDRs/s, beside the rollup ${f(beside.at(-1)!)} CDRs/s`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const check = await pool.query(
    `SELECT (SELECT sum(charged_nano) FROM ${schema}.rated_cdrs)::text AS src,
            (SELECT sum(charged_nano) FROM ${schema}.usage_daily)::text AS rolled,
            (SELECT count(*) FROM ${schema}.usage_daily)::int AS keys`,
  );
  console.log(
    `import alone ${f(mean(alone))} CDRs/s; beside the rollup (every 1 s) ${f(mean(beside))} CDRs/s; ratio ${(mean(beside) / mean(alone)).toFixed(3)}`,
  );
  console.log(
    `rollup catching up a whole import: ${f(catchRate)} CDRs/s (${(catchRate / mean(alone)).toFixed(1)}x the pipeline); lag seen during the import ≤ ${maxLag.toFixed(1)} s`,
  );
  console.log(
    `sums: rated_cdrs ${check.rows[0].src} nano, usage_daily ${check.rows[0].rolled} nano (${check.rows[0].src === check.rows[0].rolled ? 'equal' : 'DIFFERENT'}), ${f(check.rows[0].keys)} keys`,
  );
} finally {
  await rating.close();
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
  for (const file of files) rmSync(file, { force: true });
}
