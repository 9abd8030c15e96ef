/**
 * Rerating a day of stored CDRs after a tariff change, beside two ceilings measured in the same run:
 * PostgreSQL reading the same rows with nothing after (COPY TO), and the pool pricing them with
 * nothing stored. The day is generated and imported through the real pipeline first; then UK mobile
 * calls at peak time change price (about 4-5 % of the CDRs).
 *
 *   npm run bench:rerate [-- --lines 600000 --subscribers 10000 --threads 1 --other-days 9 --brin]
 *
 * Uses REDIS_URL / DATABASE_URL (defaults: local) under a private key prefix and schema, removed after.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createBalanceStore, type BalanceStore } from '../src/balances/store.js';
import { generateCdrFile } from '../src/cdr/generate.js';
import { importCdrFile } from '../src/cdr/pipeline.js';
import { createRatingPool } from '../src/cdr/pool.js';
import { rerateCdrs } from '../src/cdr/rerate.js';
import { readPeriod } from '../src/cdr/rerate-sql.js';
import { ensureCdrSchema } from '../src/cdr/store.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '600000' },
    subscribers: { type: 'string', default: '10000' },
    threads: { type: 'string' },
    /** Other days stored in the same month partition (copies of the day, by SQL). */
    'other-days': { type: 'string', default: '0' },
    /** Then add a BRIN index on answer_time and rerate again. */
    brin: { type: 'boolean', default: false },
  },
});
const LINES = Number(values.lines);
const SUBSCRIBERS = Number(values.subscribers);
const OTHER_DAYS = Number(values['other-days']);
const BRIN = values.brin;
const DAY = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00Z' };
const id = randomBytes(3).toString('hex');
const prefix = `bench-rerate-${id}:`;
const schema = `bench_rerate_${id}`;
const dir = await mkdtemp(join(tmpdir(), 'bench-rerate-'));
const file = join(dir, 'day.csv');
await cp('tariffs/sample', join(dir, 'tariff'), { recursive: true });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 6,
});
const rating = createRatingPool({
  tariffDir: join(dir, 'tariff'),
  ...(values.threads ? { threads: Number(values.threads) } : {}),
});
const f = (n: number) => Math.round(n).toLocaleString('en');
const secs = (t: number) => (performance.now() - t) / 1000;

async function fund(balances: BalanceStore): Promise<void> {
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
            subscriptions: [{ type: 'msisdn', value: `4477009${String(n).padStart(5, '0')}` }],
          },
          'c',
        );
        await balances.addBalance('acme', `b${n}`, { id: 'main', unit: 'money', value: 1e15 }, 'b');
      }),
    );
  }
}

async function money(balances: BalanceStore): Promise<bigint> {
  let total = 0n;
  for (let n = 1; n <= SUBSCRIBERS; n++)
    total += BigInt((await balances.getAccount('acme', `b${n}`))?.balances[0]?.value ?? 0);
  return total;
}

async function costs(): Promise<bigint> {
  const { rows } = await pool.query(`SELECT sum(cost_nano)::text AS s FROM ${schema}.rated_cdrs`);
  return BigInt(rows[0].s);
}

/** Ceilings: the same rows read with nothing after; then also priced on the pool, nothing stored. */
async function ceilings(): Promise<{ read: number; priced: number }> {
  const client = await pool.connect();
  try {
    let t = performance.now();
    for await (const rows of readPeriod(client, schema, DAY, 8192)) void rows;
    const read = secs(t);
    t = performance.now();
    const ahead: Promise<unknown>[] = [];
    for await (const rows of readPeriod(client, schema, DAY, 8192)) {
      ahead.push(rating.rerateChunk({ rows, subjects: {} }));
      if (ahead.length > rating.threads) await ahead.shift();
    }
    await Promise.all(ahead);
    return { read, priced: secs(t) };
  } finally {
    client.release();
  }
}

async function setRate(rate: string): Promise<void> {
  const doc = JSON.parse(await readFile(join(dir, 'tariff', 'tariff.json'), 'utf8'));
  doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = rate;
  await writeFile(join(dir, 'tariff', 'tariff.json'), JSON.stringify(doc));
  rating.reload();
}

/** Copies of the day on `n` other days of its month, so reading the day is reading part of a partition. */
async function fillOtherDays(n: number): Promise<void> {
  for (let d = 1; d <= n; d++)
    await pool.query(
      `INSERT INTO ${schema}.rated_cdrs SELECT 'd${d}-' || cdr_id, tenant, account_id, subscriber, category, service,
         destination, answer_time + interval '${d} days', usage, rated_usage, cost_nano, currency, charged_nano,
         breakdown, file_id, line, stored_at, rerated
       FROM ${schema}.rated_cdrs WHERE answer_time >= $1 AND answer_time < $2`,
      [DAY.from, DAY.to],
    );
  await pool.query(`VACUUM ANALYZE ${schema}.rated_cdrs`);
}

/** What one UPDATE of a changed row by its id cost (the rerate before this one did that per row). */
async function perRowUpdateMs(): Promise<number> {
  const { rows } = await pool.query(
    `SELECT cdr_id, answer_time FROM ${schema}.rated_cdrs WHERE rerated > 0 AND answer_time >= $1 AND answer_time < $2 LIMIT 10`,
    [DAY.from, DAY.to],
  );
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const t = performance.now();
    for (const r of rows)
      await client.query(
        `UPDATE ${schema}.rated_cdrs SET rerated = rerated WHERE cdr_id = $1 AND answer_time = $2`,
        [r.cdr_id, r.answer_time],
      );
    const ms = (performance.now() - t) / Math.max(1, rows.length);
    await client.query('ROLLBACK');
    return ms;
  } finally {
    client.release();
  }
}

/** Ceilings, then the rerate after a change of the mobile peak rate, checked to the nano. */
async function measure(balances: BalanceStore, rate: string, label: string) {
  console.log(`-- ${label}`);
  await setRate(rate);
  const ceiling = await ceilings();
  console.log(`ceiling, reading the day (COPY TO): ${ceiling.read.toFixed(2)} s`);
  console.log(`ceiling, reading + pricing on the pool, nothing stored: ${ceiling.priced.toFixed(2)} s`);
  const [money0, costs0] = [await money(balances), await costs()];
  let t = performance.now();
  const c = await rerateCdrs({ pool, schema, rating, balances }, DAY);
  const rerateS = secs(t);
  console.log(
    `rerate: ${f(c.examined)} examined, ${f(c.changed)} changed (${((100 * c.changed) / c.examined).toFixed(1)} %) in ` +
      `${rerateS.toFixed(2)} s = ${f(c.examined / rerateS)} CDRs/s (${(rerateS / ceiling.priced).toFixed(2)}x the pricing ceiling)`,
  );
  const share = (ms: number) => `${((100 * ms) / (rerateS * 1000)).toFixed(0)} %`;
  const w = c.timing;
  console.log(
    `main thread waiting: reading ${share(w.read)}, subjects ${share(w.subjects)}, the pool ${share(w.pool)}, ` +
      `storing changes and moving money ${share(w.store)}, the final UPDATE ${share(w.apply)}; the pool priced ${share(w.worker)} of the time`,
  );
  const moved = money0 - (await money(balances));
  const diff = (await costs()) - costs0;
  console.log(
    `money moved ${moved} nano, cost differences ${diff} nano: ${moved === diff ? 'exact' : 'NOT EXACT'}`,
  );
  const perRowMs = await perRowUpdateMs();
  t = performance.now();
  const again = await rerateCdrs({ pool, schema, rating, balances }, DAY);
  console.log(`the same rerate again: ${f(again.changed)} changed in ${secs(t).toFixed(2)} s`);
  return { changed: c.changed, perRowMs };
}

try {
  console.log(
    `calib ${calibrate()} Miter/s; ${rating.threads} rating worker(s); ${f(SUBSCRIBERS)} subscribers; ${f(LINES)} CDRs`,
  );
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  await fund(balances);
  await ensureCdrSchema(pool, schema);
  await generateCdrFile(file, { lines: LINES, seed: 5, subscribers: SUBSCRIBERS });
  let t = performance.now();
  const imported = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: file });
  const importS = secs(t);
  console.log(
    `import: ${f(imported.stored)} stored in ${importS.toFixed(1)} s = ${f(imported.read / importS)} CDRs/s`,
  );

  if (OTHER_DAYS) {
    t = performance.now();
    await fillOtherDays(OTHER_DAYS);
    console.log(
      `${OTHER_DAYS} other days of the same month stored beside it (copies): ${secs(t).toFixed(1)} s`,
    );
  }
  const first = await measure(balances, '0.2173', 'no index on rated_cdrs');
  console.log(
    `the old way, one UPDATE per changed row: ${(first.perRowMs ?? 0).toFixed(1)} ms each = ` +
      `${((first.changed * (first.perRowMs ?? 0)) / 1000).toFixed(0)} s for these ${f(first.changed)} changes`,
  );
  if (BRIN) {
    t = performance.now();
    await pool.query(
      `CREATE INDEX ON ${schema}.rated_cdrs USING brin (answer_time) WITH (autosummarize = on)`,
    );
    console.log(`BRIN index on answer_time built in ${secs(t).toFixed(1)} s`);
    await measure(balances, '0.2591', 'BRIN on answer_time');
  }
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
  await rm(dir, { recursive: true, force: true });
}
