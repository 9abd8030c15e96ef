/**
 * The billing run (billing.md E.7) on N postpaid accounts with one fee and C rated CDRs each for a
 * month: the run's wall time (renewals, periods, cut-off and drafts, finalization with the postpaid
 * posting, no PDFs), a rerun of the same asOf, peak RSS, beside a ceiling measured in the same run:
 * the same aggregation as one bare SQL statement. Beside the run: the charging latency (one debit at
 * a time, ~100/s, on accounts of another tenant) idle and while the run goes, and after it the PDFs
 * of the run's invoices rendered per second on the engine's pool (createPdfRenderer).
 *
 *   npm run bench:invoices [-- --accounts 5000 --cdrs 100 --chunk 1000 --pdfs 2000 --pdf-threads 1 --same-thread]
 *
 * The rows are written by SQL (INSERT … SELECT generate_series), not by the CDR pipeline: this
 * measures the run. Uses REDIS_URL / DATABASE_URL (defaults: local) under a private key prefix and
 * schema, removed after.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createBalanceStore } from '../src/balances/store.js';
import { spawn } from 'node:child_process';
import { createPdfRenderer } from '../src/billing/documents/pdf-jobs.js';
import { runBilling, type RunDeps } from '../src/billing/run/run.js';
import { createRunThread, storesOf } from '../src/billing/run/run-threads.js';
import { ensurePlansSchema } from '../src/billing/plans/schema.js';
import { ensurePartitions } from '../src/cdr/store.js';
import { ensureEngineSchema } from '../src/storage/schema.js';
import { chargingProbe, probeAccounts } from './invoices-probe.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '5000' },
    cdrs: { type: 'string', default: '100' },
    chunk: { type: 'string', default: '1000' },
    /** Keep the schema (and Redis keys) after the run, to EXPLAIN its statements by hand. */
    keep: { type: 'boolean', default: false },
    /** PDFs rendered after the run (0: none); threads of the pool (default: the engine's, cores - 1). */
    pdfs: { type: 'string', default: '2000' },
    'pdf-threads': { type: 'string' },
    /** The run in this process's thread (as the CLI runs it), not in a thread of its own (as the engine). */
    'same-thread': { type: 'boolean', default: false },
    /** Internal: the setup of run {id}, in a process of its own (its garbage is not the run's memory). */
    'setup-only': { type: 'string' },
  },
});
const ACCOUNTS = Number(values.accounts);
const CDRS = Number(values.cdrs);
const id = values['setup-only'] ?? randomBytes(3).toString('hex');
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

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(2));
};
const latency = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100) });

/** The probe in a process of its own (invoices-probe.ts): stop() answers its latencies. */
function childProbe(): { stop: () => Promise<number[]> } {
  const child = spawn('node', ['--import', 'tsx', 'bench/invoices-probe.ts', prefix], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  let stopped: Promise<number[]> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        child.stdin.end('stop\n');
        await exited;
        return JSON.parse(out) as number[];
      })()),
  };
}

/** Both probes (in this process, in another) for `fn`'s time: their latencies. */
async function probed<T>(fn: () => Promise<T>) {
  const here = chargingProbe(balances, `here-${performance.now()}`);
  const other = childProbe();
  // How long this process's event loop was held (the in-process probe waits at least that).
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  try {
    const value = await fn();
    loop.disable();
    const ms = (ns: number) => Number((ns / 1e6).toFixed(1));
    const loopDelay = { p99: ms(loop.percentile(99)), max: ms(loop.max) };
    return { value, here: latency(await here.stop()), other: latency(await other.stop()), loopDelay };
  } finally {
    await here.stop();
    await other.stop().catch(() => undefined);
  }
}

/** The run's PDFs rendered on the engine's pool: how many in how long (stops at `want`). */
async function pdfs(want: number): Promise<{ rendered: number; seconds: number; threads: string }> {
  const threads = values['pdf-threads'];
  const r = createPdfRenderer({ pool, schema, ...(threads ? { threads: Number(threads) } : {}) });
  const t = performance.now();
  let rendered = 0;
  try {
    while (rendered < want) {
      const n = await r.renderPending();
      if (n === 0) break;
      rendered += n;
    }
  } finally {
    await r.close();
  }
  return { rendered, seconds: (performance.now() - t) / 1000, threads: threads ?? 'default' };
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

/** Accounts and rows made by a child process, so that the peak RSS printed is the run's. */
async function setupElsewhere(): Promise<void> {
  const args = ['--import', 'tsx', 'bench/invoices.ts', '--setup-only', id];
  const child = spawn(process.execPath, [...args, '--accounts', String(ACCOUNTS), '--cdrs', String(CDRS)], {
    stdio: 'inherit',
  });
  const code = await new Promise((ok) => child.once('exit', ok));
  if (code !== 0) throw new Error(`the setup exited with ${String(code)}`);
}

async function setup(): Promise<void> {
  await timed('setup (Redis accounts)', redisAccounts);
  await timed('setup (rows)', rows);
}

async function main(): Promise<void> {
  process.stderr.write(
    `${f(ACCOUNTS)} postpaid accounts, ${f(ACCOUNTS * CDRS)} rated CDRs, chunk ${values.chunk}\n`,
  );
  await ensureEngineSchema(pool, schema);
  await ensurePlansSchema(pool, schema);
  await setupElsewhere();
  await probeAccounts(balances);
  const startRss = process.memoryUsage().rss;
  // Without the reconciliation at the end (its own figure): the run is renewals, drafts, finalization.
  const deps: RunDeps = {
    pool,
    schema,
    balances,
    now: Date.now,
    chunkSize: Number(values.chunk),
    reconcile: false,
  };
  // As the engine runs them: in a thread of their own (--same-thread: in this one, as the CLI does).
  const thread = values['same-thread']
    ? undefined
    : createRunThread({
        ...storesOf(pool, redis),
        commandTimeoutMs: 5000,
        keyPrefix: prefix,
        schema,
        chunkSize: Number(values.chunk),
        reconcile: false,
      });
  if (thread) deps.elsewhere = thread.start;
  const ceil = await timed('ceiling: one SQL aggregation', ceiling);
  const asOf = new Date('2026-12-01T00:00:00Z');
  const idle = await probed(() => new Promise((r) => setTimeout(r, 8000)));
  const { value: run, ...during } = await probed(() =>
    timed('run', () => runBilling(deps, { tenant: 'acme', asOf })),
  );
  process.stderr.write(
    `charging p99 ms (this process / another): idle ${idle.here.p99} / ${idle.other.p99}, during the run ${during.here.p99} / ${during.other.p99}; this process's event loop held p99 ${during.loopDelay.p99} ms, max ${during.loopDelay.max} ms (idle ${idle.loopDelay.p99} / ${idle.loopDelay.max})\n`,
  );
  const rerun = await timed('rerun (same asOf)', () => runBilling(deps, { tenant: 'acme', asOf }));
  const runPeakRss = peakRss;
  await thread?.close();
  const pdf = await timed('pdfs', () => pdfs(Number(values.pdfs)));
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
    /** Up to the end of the rerun: the run and its thread (the PDFs' pool after). */
    runPeakRssMiB: Math.round(runPeakRss / 2 ** 20),
    /** Before the run: this process's own baseline (the setup ran in a child). */
    startRssMiB: Math.round(startRss / 2 ** 20),
    projected100kSeconds: Math.round((run.s / ACCOUNTS) * 100_000),
    stepSeconds: Object.fromEntries(
      Object.entries(run.value.timing).map(([k, v]) => [k, Number((v / 1000).toFixed(2))]),
    ),
    rerunStepSeconds: Object.fromEntries(
      Object.entries(rerun.value.timing).map(([k, v]) => [k, Number((v / 1000).toFixed(2))]),
    ),
    counters: run.value.counters,
    rerunChunks: rerun.value.chunks,
    chargingMs: { idle: { here: idle.here, other: idle.other }, duringRun: during },
    pdf: { ...pdf.value, perSecond: Math.round(pdf.value.rendered / pdf.value.seconds) },
    status: run.value.status,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

try {
  await (values['setup-only'] ? setup() : main());
} finally {
  clearInterval(sampler);
  const setupOnly = values['setup-only'] !== undefined; // the parent keeps or cleans up
  if (values.keep && !setupOnly) process.stderr.write(`kept schema ${schema}, key prefix ${prefix}\n`);
  else if (!setupOnly) await cleanUp();
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
