/**
 * The CDR pipeline end to end (read + rate on the pool + charge + COPY) on a generated file, with
 * where the time goes, beside two ceilings measured in the same run: the pool rating the same
 * chunks with nothing after it, and PostgreSQL taking the same rows with no charging.
 *
 *   npm run bench:cdr [-- --lines 1000000 --subscribers 10000 --threads 1]
 *
 * Uses REDIS_URL / DATABASE_URL (defaults: local) under a private key prefix and schema, removed after.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createBalanceStore } from '../src/balances/store.js';
import { NATIVE_MAPPING } from '../src/cdr/format.js';
import { generateCdrFile } from '../src/cdr/generate.js';
import { importCdrFile } from '../src/cdr/pipeline.js';
import { createRatingPool } from '../src/cdr/pool.js';
import { openCdrFile } from '../src/cdr/read.js';
import { claimCdrs, copyRatedCdrs, ensureCdrSchema, ensurePartitions } from '../src/cdr/store.js';
import type { ChunkResult } from '../src/cdr/chunk-result.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    subscribers: { type: 'string', default: '10000' },
    threads: { type: 'string' },
    /** Skip the two ceilings (to watch the end-to-end run alone). */
    'no-ceilings': { type: 'boolean', default: false },
  },
});
const LINES = Number(values.lines);
const SUBSCRIBERS = Number(values.subscribers);
const id = randomBytes(3).toString('hex');
const prefix = `bench-cdr-${id}:`;
const schema = `bench_cdr_${id}`;
const file = join(tmpdir(), `bench-cdr-${id}.csv`);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 6,
});
const rating = createRatingPool({
  tariffDir: 'tariffs/sample',
  ...(values.threads ? { threads: Number(values.threads) } : {}),
});
const f = (n: number) => Math.round(n).toLocaleString('en');
const msisdn = (i: number) => `4477009${String(i).padStart(5, '0')}`;

async function fund(balances: ReturnType<typeof createBalanceStore>): Promise<void> {
  for (let i = 1; i <= SUBSCRIBERS; i += 500) {
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
            subscriptions: [{ type: 'msisdn', value: msisdn(n) }],
          },
          'c',
        );
        await balances.addBalance('acme', `b${n}`, { id: 'main', unit: 'money', value: 1e15 }, 'b');
      }),
    );
  }
}

/** Every chunk rated on the pool, nothing after: the rating ceiling (and the rows for the next one). */
async function rateOnly(
  balances: ReturnType<typeof createBalanceStore>,
): Promise<{ s: number; results: ChunkResult[] }> {
  const t = performance.now();
  const cdrFile = await openCdrFile(file);
  const directory = {
    redis: {
      host: '127.0.0.1',
      port: Number(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379),
    },
    keyPrefix: balances.keySpace.prefix,
    job: 'rate-only',
  };
  const pending: Promise<ChunkResult>[] = [];
  for await (const c of cdrFile.chunks)
    pending.push(
      rating.rateChunk({
        directory,
        bytes: c.bytes,
        firstLine: c.firstLine,
        index: cdrFile.index,
        columns: cdrFile.columns,
        mapping: NATIVE_MAPPING,
        fileId: 'f',
      }),
    );
  const results = await Promise.all(pending);
  return { s: (performance.now() - t) / 1000, results };
}

/** The same rows into PostgreSQL with nothing else: claims and COPY, a transaction per chunk. */
async function storeOnly(results: ChunkResult[]): Promise<number> {
  const s = `${schema}_ceiling`;
  await ensureCdrSchema(pool, s);
  const t = performance.now();
  for (const r of results) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await claimCdrs(client, s, r.claims, r.claimEnds);
      await ensurePartitions(client, s, r.months);
      await copyRatedCdrs(client, s, r.rows);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  const secs = (performance.now() - t) / 1000;
  await pool.query(`DROP SCHEMA ${s} CASCADE`);
  return secs;
}

try {
  console.log(
    `calib ${calibrate()} Miter/s; ${rating.threads} rating worker(s); ${f(SUBSCRIBERS)} subscribers`,
  );
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  let t = performance.now();
  await fund(balances);
  await ensureCdrSchema(pool, schema);
  console.log(`funded ${f(SUBSCRIBERS)} accounts in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  await generateCdrFile(file, { lines: LINES, seed: 5, subscribers: SUBSCRIBERS });
  console.log(
    `generate ${f(LINES)} lines (${f(statSync(file).size / 1e6)} MB): ${((performance.now() - t) / 1000).toFixed(2)} s`,
  );

  if (!values['no-ceilings']) {
    const rated = await rateOnly(balances);
    console.log(`ceiling, rating only on the pool: ${f(LINES / rated.s)} CDRs/s`);
    const storeS = await storeOnly(rated.results);
    console.log(`ceiling, storing only (claims + COPY, same rows): ${f(LINES / storeS)} CDRs/s`);
    rated.results.length = 0;
  }
  console.log('end to end...');

  t = performance.now();
  const c = await importCdrFile({ balances, pool, schema, rating }, file, {
    fileId: file,
    ...(process.env.CHUNK_KIB ? { chunkBytes: Number(process.env.CHUNK_KIB) * 1024 } : {}),
  });
  const s = (performance.now() - t) / 1000;
  const share = (ms: number) => `${((100 * ms) / (s * 1000)).toFixed(0)} %`;
  console.log(
    `end to end: ${f(c.read)} CDRs in ${s.toFixed(1)} s = ${f(c.read / s)} CDRs/s (stored ${f(c.stored)}, rejected ${f(Object.values(c.rejected).reduce((a, b) => a + b, 0))})`,
  );
  console.log(
    `main thread: waiting for the file ${share(c.timing.read)}, for the pool ${share(c.timing.rate)}, charging ${share(c.timing.charge)}, storing ${share(c.timing.store)} (these overlap); the pool rated ${share(c.timing.worker)} of the time`,
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
