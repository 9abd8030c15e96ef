/**
 * CDR pipeline end to end (read + rate on the pool + charge + COPY) on a generated file, with where
 * the time goes, beside the rating-only rate of the pool.
 *
 *   npm run bench:cdr [-- --lines 200000]
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
import { readCdrBatches } from '../src/cdr/read.js';
import { ensureCdrSchema } from '../src/cdr/store.js';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '200000' } } });
const LINES = Number(values.lines);
const id = randomBytes(3).toString('hex');
const prefix = `bench-cdr-${id}:`;
const schema = `bench_cdr_${id}`;
const file = join(tmpdir(), `bench-cdr-${id}.csv`);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
});
const rating = createRatingPool({ tariffDir: 'tariffs/sample' });
const f = (n: number) => Math.round(n).toLocaleString('en');

try {
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  for (let i = 1; i <= 50; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `b${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `b${i}`,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(i).padStart(5, '0')}` }],
      },
      'c',
    );
    await balances.addBalance('acme', `b${i}`, { id: 'main', unit: 'money', value: 1e15 }, 'b');
  }
  await ensureCdrSchema(pool, schema);
  let t = performance.now();
  await generateCdrFile(file, { lines: LINES, seed: 5 });
  console.log(`generate ${f(LINES)} lines: ${((performance.now() - t) / 1000).toFixed(2)} s`);

  t = performance.now();
  const parsed: Parameters<typeof rating.rate>[0][] = [];
  for await (const b of readCdrBatches(file, { batchSize: 2000 })) {
    parsed.push(
      b.records.map((r) => ({
        tenant: r.tenant,
        category: r.category,
        subject: 'x',
        destination: r.destination,
        startTime: r.startTime,
        usage: r.usage,
        tor: r.service,
      })),
    );
  }
  const parseS = (performance.now() - t) / 1000;
  t = performance.now();
  await Promise.all(parsed.map((events) => rating.rate(events)));
  const rateS = (performance.now() - t) / 1000;
  console.log(
    `read + parse only: ${f(LINES / parseS)} lines/s; rating only on the pool: ${f(LINES / rateS)} CDRs/s`,
  );

  t = performance.now();
  const c = await importCdrFile({ balances, pool, schema, rating }, file, { batchSize: 2000 });
  const s = (performance.now() - t) / 1000;
  const share = (ms: number) => `${((100 * ms) / (s * 1000)).toFixed(0)} %`;
  console.log(
    `end to end: ${f(c.read)} CDRs in ${s.toFixed(1)} s = ${f(c.read / s)} CDRs/s (stored ${f(c.stored)})`,
  );
  console.log(
    `time: read+parse ${share(c.timing.read)}, rate ${share(c.timing.rate)}, charge ${share(c.timing.charge)}, store (COPY) ${share(c.timing.store)}`,
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
  rmSync(file, { force: true });
}
