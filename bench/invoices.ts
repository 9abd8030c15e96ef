/**
 * The billing run (billing.md E.7) on N postpaid accounts with one fee and C rated CDRs each for a
 * month: the run's wall time (renewals, periods, cut-off and drafts, finalization with the postpaid
 * posting, no PDFs), a rerun of the same asOf, peak RSS, beside a ceiling measured in the same run:
 * the same aggregation as one bare SQL statement.
 *
 *   npm run bench:invoices [-- --accounts 5000 --cdrs 100 --chunk 1000]
 *
 * The rows are written by SQL (INSERT … SELECT generate_series), not by the CDR pipeline: this
 * measures the run. Uses REDIS_URL / DATABASE_URL (defaults: local) under a private key prefix and
 * schema, removed after.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createBalanceStore } from '../src/balances/store.js';
import { runBilling, type RunDeps } from '../src/billing/run/run.js';
import { ensurePlansSchema } from '../src/billing/plans/schema.js';
import { ensurePartitions } from '../src/cdr/store.js';
import { ensureEngineSchema } from '../src/storage/schema.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '5000' },
    cdrs: { type: 'string', default: '100' },
    chunk: { type: 'string', default: '1000' },
    /** Keep the schema (and Redis keys) after the run, to EXPLAIN its statements by hand. */
    keep: { type: 'boolean', default: false },
  },
});
const ACCOUNTS = Number(values.accounts);
const CDRS = Number(values.cdrs);
const id = randomBytes(3).toString('hex');
const prefix = `bench-inv-${id}:`;
const schema = `bench_inv_${id}`;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 6,
});
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const f = (n: number) => Math.round(n).toLocaleString('en');
const acc = (n: number) => `acc${String(n).padStart(7, '0')}`;

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

async function timed<T>(label: string, fn: () => Promise<T>): Promise<{ s: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  const s = (performance.now() - t) / 1000;
  process.stderr.write(`${label}: ${s.toFixed(2)} s\n`);
  return { s, value };
}

async function redisAccounts(): Promise<void> {
  for (let i = 1; i <= ACCOUNTS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, ACCOUNTS - i + 1) }, async (_, k) => {
        const a = acc(i + k);
        await balances.createAccount(
          {
            tenant: 'acme',
            id: a,
            type: 'postpaid',
            currency: 'GBP',
            subject: a,
            subscriptions: [],
            creditLimitNano: 1e15,
          },
          'c',
        );
        await balances.addBalance('acme', a, { id: 'main', unit: 'money', value: 0 }, 'b');
      }),
    );
  }
}

/** Profiles, VAT, one applied fee and CDRS rated CDRs per account, for November 2026. */
async function rows(): Promise<void> {
  const s = schema;
  await pool.query(
    `INSERT INTO ${s}.taxes (tenant, code, valid_from, rate) VALUES ('acme', 'VAT', '2020-01-01', 0.2)`,
  );
  await pool.query(
    `INSERT INTO ${s}.tax_profiles (tenant, code, mapping) VALUES ('acme', 'uk', '{"fee":"VAT","usage":"VAT"}')`,
  );
  await pool.query(
    `INSERT INTO ${s}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, tax_profile, grace_hours, created_at)
     SELECT 'acme', 'acc' || lpad(a::text, 7, '0'), 'postpaid', 'GBP', 'UTC', 1, 'invoice', 'uk', 0, '2026-11-01T00:00:00Z'
       FROM generate_series(1, $1) a`,
    [ACCOUNTS],
  );
  await pool.query(
    `INSERT INTO ${s}.charges (tenant, account_id, op_id, kind, description, amount_nano, currency, event_time, status, stored_at)
     SELECT 'acme', 'acc' || lpad(a::text, 7, '0'), 'fee:' || a, 'fee', 'Plan fee', 15000000000, 'GBP',
            '2026-11-01T00:00:00Z', 'applied', statement_timestamp()
       FROM generate_series(1, $1) a`,
    [ACCOUNTS],
  );
  const c = await pool.connect();
  try {
    await ensurePartitions(c, s, ['2026-11']);
  } finally {
    c.release();
  }
  const services = `(ARRAY['voice','sms','data'])[1 + i % 3]`;
  for (let from = 1; from <= ACCOUNTS; from += 10_000)
    await pool.query(
      `INSERT INTO ${s}.rated_cdrs (cdr_id, tenant, account_id, subscriber, category, service, destination, answer_time,
         usage, rated_usage, cost_nano, currency, charged_nano, file_id, line)
       SELECT a || '-' || i, 'acme', 'acc' || lpad(a::text, 7, '0'), '4477' || a, ${services}, ${services}, '*any',
              timestamptz '2026-11-01T00:00:00Z' + i * interval '7 hours', 60, 60, 1234567 + i, 'GBP', 1234567 + i, 'bench', i
         FROM generate_series($1::int, $2::int) a, generate_series(1, $3::int) i`,
      [from, Math.min(ACCOUNTS, from + 9_999), CDRS],
    );
  await pool.query(`ANALYZE ${s}.rated_cdrs`);
}

/** The ceiling: the run's usage aggregation as one bare SQL statement over the same rows. */
async function ceiling(): Promise<number> {
  const r = await pool.query(
    `SELECT account_id, service, category, count(*), sum(usage), sum(charged_nano) FROM ${schema}.rated_cdrs
      WHERE tenant = 'acme' AND stored_at <= clock_timestamp() AND least(answer_time, stored_at) < '2026-12-01'
      GROUP BY 1, 2, 3`,
  );
  return r.rowCount ?? 0;
}

async function main(): Promise<void> {
  process.stderr.write(
    `${f(ACCOUNTS)} postpaid accounts, ${f(ACCOUNTS * CDRS)} rated CDRs, chunk ${values.chunk}\n`,
  );
  await ensureEngineSchema(pool, schema);
  await ensurePlansSchema(pool, schema);
  await timed('setup (Redis accounts)', redisAccounts);
  await timed('setup (rows)', rows);
  // Without the reconciliation at the end (its own figure): the run is renewals, drafts, finalization.
  const deps: RunDeps = {
    pool,
    schema,
    balances,
    now: Date.now,
    chunkSize: Number(values.chunk),
    reconcile: false,
  };
  const ceil = await timed('ceiling: one SQL aggregation', ceiling);
  const asOf = new Date('2026-12-01T00:00:00Z');
  const run = await timed('run', () => runBilling(deps, { tenant: 'acme', asOf }));
  const rerun = await timed('rerun (same asOf)', () => runBilling(deps, { tenant: 'acme', asOf }));
  const result = {
    date: new Date().toISOString(),
    accounts: ACCOUNTS,
    cdrs: ACCOUNTS * CDRS,
    runSeconds: Number(run.s.toFixed(2)),
    accountsPerSecond: Math.round(ACCOUNTS / run.s),
    ceilingSeconds: Number(ceil.s.toFixed(2)),
    rerunSeconds: Number(rerun.s.toFixed(2)),
    rerunShare: Number((rerun.s / run.s).toFixed(3)),
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    projected100kSeconds: Math.round((run.s / ACCOUNTS) * 100_000),
    stepSeconds: Object.fromEntries(
      Object.entries(run.value.timing).map(([k, v]) => [k, Number((v / 1000).toFixed(2))]),
    ),
    rerunStepSeconds: Object.fromEntries(
      Object.entries(rerun.value.timing).map(([k, v]) => [k, Number((v / 1000).toFixed(2))]),
    ),
    counters: run.value.counters,
    status: run.value.status,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

try {
  await main();
} finally {
  clearInterval(sampler);
  if (values.keep) process.stderr.write(`kept schema ${schema}, key prefix ${prefix}\n`);
  else await cleanUp();
  await pool.end();
  redis.disconnect();
}

async function cleanUp(): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
