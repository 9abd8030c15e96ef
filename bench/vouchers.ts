/**
 * Vouchers (issue 14, F.6): a batch of 1,000,000 generated (PINs drawn, HMACed and COPYed into the
 * indexed table in one transaction; target ≤ 30 s) beside its ceiling in the same run — a bare COPY
 * of 1,000,000 rows of the same width (random bytes for the hash) into a copy of the table with the
 * same indexes —, the one-time CSV download of the million, then rounds of 100 concurrent
 * redemptions of distinct PINs through the HTTP app (auth, schema, PostgreSQL claim, Redis credit,
 * event; target p99 < 50 ms) beside 100 concurrent bare round trips (one PostgreSQL UPDATE and one
 * Redis INCR each).
 *
 *   npm run bench:vouchers [-- --count 1000000 --rounds 5 --warmup 5 --concurrency 100 --pool 20]
 *
 * The first `--warmup` rounds are not counted: they measure V8 compiling the redemption path (the
 * first rounds of a fresh process are 1.5-2 × slower), not an engine that has been serving.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ensureDocumentsSchema } from '../src/billing/documents/schema.js';
import { failFastOptions } from '../src/infra/redis.js';
import { ensureWebhooksSchema } from '../src/webhooks/schema.js';
import { createBatch } from '../src/vouchers/batches.js';
import { takePins } from '../src/vouchers/download.js';
import { voucherKeys, pinHash } from '../src/vouchers/keys.js';
import { pinsAt } from '../src/vouchers/pins.js';
import { ensureVouchersSchema } from '../src/vouchers/schema.js';
import { testApp } from '../tests/support/app.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '100' },
    // The engine's own pool is 8 (src/infra/postgres.ts); 20 here unless told.
    pool: { type: 'string', default: '20' },
  },
});
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const CONC = Number(values.concurrency);
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: Number(values.pool),
});
// The engine's own client options (auto-pipelining, fail fast), so the app is measured as it runs.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', failFastOptions());
const schema = `bench_v_${randomBytes(4).toString('hex')}`;
const prefix = `bench-v-${randomBytes(4).toString('hex')}:`;
const keys = voucherKeys(randomBytes(32));
const secs = (ms: number) => (ms / 1000).toFixed(2);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** The ceiling of generation: COPY of random rows of the same width into an identical table. */
async function bareCopy(run: number): Promise<number> {
  await pool.query(`CREATE TABLE ${schema}.ceiling${run} (LIKE ${schema}.vouchers INCLUDING ALL)`);
  function* rows() {
    for (let from = 0; from < COUNT; from += 5000) {
      let text = '';
      for (let i = from; i < Math.min(COUNT, from + 5000); i++)
        text += `acme\tCEILING0-${String(i + 1).padStart(7, '0')}\t00000000-0000-4000-8000-000000000000\t\\\\x${randomBytes(32).toString('hex')}\n`;
      yield text;
    }
  }
  const c = await pool.connect();
  const t0 = performance.now();
  await c.query('BEGIN');
  await pipeline(
    Readable.from(rows()),
    c.query(copyFrom(`COPY ${schema}.ceiling${run} (tenant, serial, batch_id, pin_hash) FROM STDIN`)),
  );
  await c.query('COMMIT');
  c.release();
  const ms = performance.now() - t0;
  await pool.query(`DROP TABLE ${schema}.ceiling${run}`);
  return ms;
}

/** The CPU alone: drawing and hashing every PIN, no PostgreSQL. */
function cpuOnly(): number {
  const seed = randomBytes(32);
  const t0 = performance.now();
  for (let from = 0; from < COUNT; from += 5000)
    for (const pin of pinsAt(seed, from, Math.min(5000, COUNT - from))) pinHash(keys.pinKey, 'acme', pin);
  return performance.now() - t0;
}

async function generate(deps: Parameters<typeof createBatch>[0]): Promise<{ ms: number; batchId: string }> {
  const t0 = performance.now();
  const { batch } = await createBatch(deps, 'acme', {
    reference: 'bench',
    count: COUNT,
    value: { amount: '5.00', currency: 'GBP' },
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  });
  for (;;) {
    const r = await pool.query<{ status: string }>(
      `SELECT status FROM ${schema}.voucher_batches WHERE id = $1`,
      [batch.batchId],
    );
    if (r.rows[0]!.status !== 'generating') break;
    await new Promise((ok) => setTimeout(ok, 20));
  }
  return { ms: performance.now() - t0, batchId: batch.batchId };
}

/** The one download, timed to its last byte; the PINs are parsed afterwards (not timed). */
async function download(deps: Parameters<typeof takePins>[0], batchId: string) {
  const t0 = performance.now();
  const chunks: string[] = [];
  for (const chunk of await takePins(deps, 'acme', batchId)) chunks.push(chunk);
  const ms = performance.now() - t0;
  const pins = chunks
    .join('')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(',')[1]!);
  return { ms, pins };
}

async function main() {
  await pool.query(`CREATE SCHEMA ${schema}`);
  await ensureDocumentsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureVouchersSchema(pool, schema);
  const { app, balances } = await testApp({
    redis,
    prefix,
    keys: [{ key: 'bench-billing', role: 'billing', tenant: 'acme' }],
    vouchers: { pool, schema, keys },
  });
  const deps = { pool, schema, balances, redis, keyPrefix: prefix, keys, now: Date.now };
  console.log(
    `machine: ${os.cpus()[0]?.model} x${os.cpus().length}, ${new Date().toISOString()}, pool ${values.pool}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const cpu = cpuOnly();
  // The ceiling before and after: the box's load drifts during a run of a minute.
  const before = await bareCopy(1);
  const gen = await generate(deps);
  const after = await bareCopy(2);
  const ceiling = (before + after) / 2;
  console.log(
    `generate ${COUNT}: ${secs(gen.ms)} s (CPU alone: draw + HMAC ${secs(cpu)} s); bare COPY ceiling ${secs(before)} / ${secs(after)} s; ratio ${(gen.ms / ceiling).toFixed(2)}`,
  );
  const dl = await download(deps, gen.batchId);
  console.log(`pins.csv of ${dl.pins.length}: ${secs(dl.ms)} s`);
  const accounts = CONC;
  for (let i = 0; i < accounts; i++) {
    await balances.createAccount(
      { tenant: 'acme', id: `a${i}`, type: 'prepaid', currency: 'GBP', subject: 's' },
      `c${i}`,
    );
    await balances.addBalance('acme', `a${i}`, { id: 'main', unit: 'money', value: 0 }, `m${i}`);
  }
  await pool.query(`CREATE TABLE ${schema}.bare (id int PRIMARY KEY, n int)`);
  await pool.query(`INSERT INTO ${schema}.bare SELECT g, 0 FROM generate_series(0, ${CONC - 1}) g`);
  const all: number[] = [];
  const bareAll: number[] = [];
  const rates: number[] = [];
  // The warm-up rounds (JIT, connections) are printed but not counted.
  const warm: number[] = [];
  for (let round = 1 - WARMUP; round <= ROUNDS; round++) {
    const pins = dl.pins.slice((round + WARMUP - 1) * CONC, (round + WARMUP) * CONC);
    const elu0 = performance.eventLoopUtilization();
    const lat = await Promise.all(
      pins.map(async (pin, i) => {
        const t0 = performance.now();
        const res = await app.inject({
          method: 'POST',
          url: `/v1/accounts/a${i}/vouchers/redeem`,
          headers: { authorization: 'Bearer bench-billing' },
          payload: { pin },
        });
        if (res.statusCode !== 200) throw new Error(`redeem: ${res.statusCode} ${res.body}`);
        return performance.now() - t0;
      }),
    );
    const elu = performance.eventLoopUtilization(elu0);
    const bare = process.env.SKIP_BARE
      ? [0]
      : await Promise.all(
          pins.map(async (_p, i) => {
            const t0 = performance.now();
            await pool.query(`UPDATE ${schema}.bare SET n = n + 1 WHERE id = $1`, [i]);
            await redis.incr(`${prefix}bare:${i}`);
            return performance.now() - t0;
          }),
        );
    if (round <= 0) {
      warm.push(pct(lat, 99));
      continue;
    }
    all.push(...lat);
    rates.push((CONC / Math.max(...lat)) * 1000);
    bareAll.push(...bare);
    console.log(
      `round ${round}: ${CONC} concurrent redemptions p50 ${pct(lat, 50).toFixed(1)} ms p99 ${pct(lat, 99).toFixed(1)} ms max ${Math.max(...lat).toFixed(1)} ms, thread busy ${(elu.utilization * 100).toFixed(0)} % (${(elu.active / CONC).toFixed(2)} ms each); bare p99 ${pct(bare, 99).toFixed(1)} ms`,
    );
  }
  if (WARMUP > 0)
    console.log(`warm-up rounds (not counted): p99 ${warm.map((x) => x.toFixed(1)).join(', ')} ms`);
  console.log(
    `redemptions overall: p50 ${pct(all, 50).toFixed(1)} ms p99 ${pct(all, 99).toFixed(1)} ms; bare round trips p99 ${pct(bareAll, 99).toFixed(1)} ms; ratio p99 ${(pct(all, 99) / pct(bareAll, 99)).toFixed(2)}; best round ${Math.max(...rates).toFixed(0)} redemptions/s; load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  await app.close();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    const ks = await redis.keys(`${prefix}*`);
    if (ks.length) await redis.del(...ks);
    await pool.end();
    redis.disconnect();
  });
