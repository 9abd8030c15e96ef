/**
 * Debits per second through ioredis (auto-pipelined) against the local Redis, from one and from
 * two processes, beside the ceiling: redis-benchmark running the same debit function (FCALL,
 * 50 clients, pipeline 16) on the same machine in the same run.
 *
 *   npm run bench:debit [-- --debits 200000 --accounts 10000 --inflight 256]
 *
 * Uses REDIS_URL (default redis://127.0.0.1:6379) under a private key prefix, deleted afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createBalanceStore } from '../src/balances/store.js';
import { functionName, loadLibrary } from '../src/balances/scripts.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    debits: { type: 'string', default: '200000' },
    accounts: { type: 'string', default: '10000' },
    inflight: { type: 'string', default: '256' },
    worker: { type: 'boolean', default: false },
    prefix: { type: 'string', default: '' },
    seed: { type: 'string', default: '0' },
  },
});
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEBITS = Number(values.debits);
const ACCOUNTS = Number(values.accounts);
const INFLIGHT = Number(values.inflight);
const id = (i: number) => String(i).padStart(12, '0'); // the shape redis-benchmark's __rand_int__ takes

/** One process: DEBITS debits on random accounts, INFLIGHT at a time; prints JSON stats. */
async function worker(prefix: string, seed: string): Promise<void> {
  const redis = new Redis(url, { enableAutoPipelining: true });
  const store = createBalanceStore({ redis, keyPrefix: prefix });
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      for (let i = next++; i < DEBITS; i = next++) {
        const started = performance.now();
        const r = await store.debit('bench', id(Math.floor(Math.random() * ACCOUNTS)), {
          opId: `${seed}-${i}`,
          charge: { unit: 'sms', units: 1, amountNano: 1000 },
        });
        if (r.code !== 'OK') throw new Error(r.code);
        lat.push(performance.now() - started);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.floor(p * (lat.length - 1))]!;
  console.log(
    JSON.stringify({
      start: t0 + performance.timeOrigin,
      end: performance.now() + performance.timeOrigin,
      seconds,
      p50: q(0.5),
      p99: q(0.99),
    }),
  );
  await redis.quit();
}

async function runProcesses(prefix: string, procs: number, accounts: number) {
  const file = fileURLToPath(import.meta.url);
  const outs = await Promise.all(
    Array.from({ length: procs }, (_, p) => {
      const child = spawn(
        'node',
        [
          '--import',
          'tsx',
          file,
          '--worker',
          '--prefix',
          prefix,
          '--seed',
          `${procs}p${p}`,
          '--debits',
          String(Math.floor(DEBITS / procs)),
          '--accounts',
          String(accounts),
          '--inflight',
          String(INFLIGHT),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      return new Promise<{ start: number; end: number; p50: number; p99: number }>((resolve, reject) =>
        child.on('exit', (code) =>
          code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}`)),
        ),
      );
    }),
  );
  const wall = (Math.max(...outs.map((o) => o.end)) - Math.min(...outs.map((o) => o.start))) / 1000;
  return {
    rate: (Math.floor(DEBITS / procs) * procs) / wall,
    p50: Math.max(...outs.map((o) => o.p50)),
    p99: Math.max(...outs.map((o) => o.p99)),
  };
}

async function ceiling(prefix: string, client: Redis): Promise<number> {
  const redis = new URL(url);
  await loadLibrary(client);
  // redis-benchmark draws __rand_int__ anew at every occurrence, so the account keys cannot follow
  // one random account: the ceiling debits one funded account, each call under a fresh operation id
  // (two random numbers), which costs the script the same work as any account.
  const a = id(0);
  const base = `${prefix}{a:bench:${a}}`;
  const args = [
    '-h',
    redis.hostname,
    '-p',
    redis.port || '6379',
    '-c',
    '50',
    '-n',
    String(DEBITS),
    '-P',
    '16',
    '-r',
    '1000000000',
    '-q',
    'FCALL',
    functionName('debit'),
    '7',
    `${base}:acct:${a}`,
    `${base}:bal:${a}`,
    `${base}:gbal`,
    `${base}:res:${a}`,
    `${base}:resx:${a}`,
    `${base}:outbox`,
    `${base}:op:${a}:rb__rand_int____rand_int__`,
    'rb',
    'fp',
    String(Date.now()),
    '60',
    a,
    'debit',
    'sms',
    '1',
    '1000',
    '',
    '',
    '',
    '',
    '',
  ];
  const out = execFileSync('redis-benchmark', args).toString();
  const m = /([\d.]+) requests per second/.exec(out);
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  if (values.worker) return worker(values.prefix!, values.seed!);
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(url, { enableAutoPipelining: true });
  const store = createBalanceStore({ redis, keyPrefix: prefix });
  try {
    process.stderr.write(`funding ${ACCOUNTS} accounts...\n`);
    for (let i = 0; i < ACCOUNTS; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, ACCOUNTS - i) }, async (_, k) => {
          const a = id(i + k);
          await store.createAccount(
            { tenant: 'bench', id: a, type: 'prepaid', currency: 'EUR', subject: a },
            `c${a}`,
          );
          await store.addBalance('bench', a, { id: 'main', unit: 'money', value: 1e15 }, `b${a}`);
        }),
      );
    }
    const calib = calibrate();
    process.stderr.write('ceiling: redis-benchmark FCALL debit...\n');
    const ceil = await ceiling(prefix, redis);
    const f = (n: number) => Math.round(n).toLocaleString('en');
    console.log(
      `calibration ${calib.toFixed(0)} Miter/s; ${DEBITS} debits per run, ${INFLIGHT} in flight per process, AOF ${(await redis.config('GET', 'appendonly'))[1]}`,
    );
    console.log(`| ceiling: redis-benchmark FCALL debit, one account (-c 50 -P 16) | ${f(ceil)} /s | |`);
    for (const [label, accounts] of [
      ['one account (as the ceiling)', 1],
      [`${ACCOUNTS} random accounts`, ACCOUNTS],
    ] as const) {
      for (const procs of [1, 2]) {
        process.stderr.write(`${label}, ${procs} process(es)...\n`);
        const r = await runProcesses(prefix, procs, accounts);
        console.log(
          `| engine, ${label}, ${procs} process${procs > 1 ? 'es' : ''} | ${f(r.rate)} /s (${((100 * r.rate) / ceil).toFixed(0)} % of ceiling) | p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms |`,
        );
      }
    }
  } finally {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      if (keys.length) await redis.unlink(...keys);
      cursor = nextCursor;
    } while (cursor !== '0');
    await redis.quit();
  }
}

await main();
