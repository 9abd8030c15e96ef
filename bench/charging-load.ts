/**
 * Load harness for the charging API: starts the engine as its own process, funds accounts, then a
 * separate load process drives a mix of SMS events and voice and data sessions over keep-alive
 * HTTP and reports requests/s and p50/p99/p999.
 *
 *   npm run bench:charging [-- --seconds 10 --connections 64 --accounts 2000]
 *   REDIS_CLUSTER_NODES=127.0.0.1:8310,… npm run bench:charging -- --engines 2   (engines on a Cluster)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBalanceStore } from '../src/balances/store.js';
import { calibrate } from './lib/calibrate.js';
import { benchRedis, cost, costLine, deleteUnder, idleCost } from './lib/engines.js';
import { quantile, runLoad } from './lib/http-load.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    accounts: { type: 'string', default: '2000' },
    load: { type: 'boolean', default: false },
    port: { type: 'string', default: '3399' },
    /** Write a CPU profile of the engine into this folder. */
    profile: { type: 'string' },
    /** Engine processes to start (each on its own port; the load spreads its connections). */
    engines: { type: 'string', default: '1' },
  },
});
const PORT = Number(values.port);
const ACCOUNTS = Number(values.accounts);
const msisdn = (i: number) => `4477${String(i).padStart(8, '0')}`;

/** One scenario: the requests a network element sends, in order (a session is 2 or 3 requests). */
function scenario(n: number): { path: string; json: string }[] {
  const sub = [{ type: 'E164', data: msisdn(n % ACCOUNTS) }];
  const id = encodeURIComponent(`bench;${process.pid};${n}`);
  const t = '2026-11-20T10:15:00Z';
  const kind = n % 10;
  const req = (path: string, body: object) => ({ path, json: JSON.stringify(body) });
  if (kind < 4) {
    return [
      req(`/v1/events/${id}`, {
        requestedAction: 'DIRECT_DEBITING',
        eventTime: t,
        serviceContextId: '32274@3gpp.org',
        subscriptionIds: sub,
        serviceInformation: { sms: { recipients: ['447911123456'] } },
        mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
      }),
    ];
  }
  if (kind < 7) {
    return [
      req(`/v1/sessions/${id}/initiate`, {
        requestNumber: 0,
        eventTime: t,
        serviceContextId: '32260@3gpp.org',
        subscriptionIds: sub,
        serviceInformation: { ims: { calledParty: 'tel:+442071234567' } },
        mscc: [{ ratingGroup: 100, requested: { time: 120 } }],
      }),
      req(`/v1/sessions/${id}/terminate`, {
        requestNumber: 1,
        eventTime: t,
        mscc: [{ ratingGroup: 100, used: [{ time: 95 }] }],
      }),
    ];
  }
  return [
    req(`/v1/sessions/${id}/initiate`, {
      requestNumber: 0,
      eventTime: t,
      serviceContextId: '32251@3gpp.org',
      subscriptionIds: sub,
      mscc: [{ ratingGroup: 10, requested: { totalOctets: 10485760 } }],
    }),
    req(`/v1/sessions/${id}/update`, {
      requestNumber: 1,
      eventTime: t,
      mscc: [{ ratingGroup: 10, requested: { totalOctets: 10485760 }, used: [{ totalOctets: 8388608 }] }],
    }),
    req(`/v1/sessions/${id}/terminate`, {
      requestNumber: 2,
      eventTime: t,
      mscc: [{ ratingGroup: 10, used: [{ totalOctets: 1048576 }] }],
    }),
  ];
}

/** The load process: closed loop, CONNECTIONS requests in flight, for SECONDS (bench/lib/http-load.ts). */
async function load(): Promise<void> {
  const r = await runLoad({
    port: Array.from({ length: Number(values.engines) }, (_, i) => PORT + i),
    connections: Number(values.connections),
    seconds: Number(values.seconds),
    headers: { authorization: 'Bearer demo-network' },
    scenario: (n) => scenario(n).map((x) => ({ method: 'POST' as const, path: x.path, body: x.json })),
  });
  const q = (p: number) => quantile(r.latencies, p).toFixed(2);
  if (r.firstError) process.stderr.write(`first failure: ${r.firstError}\n`);
  console.log(
    JSON.stringify({
      requests: r.requests,
      failed: r.failed,
      rps: Math.round(r.requests / r.seconds),
      p50: q(0.5),
      p99: q(0.99),
      p999: q(0.999),
    }),
  );
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      // A bounded wait: an answer that never comes (another process on the port) is tried again.
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('engine did not start');
}

async function main(): Promise<void> {
  if (values.load) return load();
  const prefix = `bench-${randomBytes(3).toString('hex')}:`;
  // A Cluster when REDIS_CLUSTER_NODES names one (as the engines read it), else REDIS_URL or 6379.
  const redis = benchRedis();
  const store = createBalanceStore({ redis, keyPrefix: prefix });
  console.log(`calib ${calibrate()} Miter/s`);
  process.stderr.write(`funding ${ACCOUNTS} accounts...\n`);
  for (let i = 0; i < ACCOUNTS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, ACCOUNTS - i) }, async (_, k) => {
        const id = `b${i + k}`;
        await store.createAccount(
          {
            tenant: 'acme',
            id,
            type: 'prepaid',
            currency: 'GBP',
            subject: id,
            subscriptions: [{ type: 'msisdn', value: msisdn(i + k) }],
          },
          'c',
        );
        await store.addBalance('acme', id, { id: 'main', unit: 'money', value: 1e15 }, 'b');
      }),
    );
  }
  const engines: ChildProcess[] = Array.from({ length: Number(values.engines) }, (_, i) =>
    spawn(
      'node',
      [
        ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []),
        '--import',
        'tsx',
        '--import',
        './bench/lib/loop-probe.ts',
        'src/main.ts',
      ],
      {
        env: {
          ...process.env,
          // Node/V8 flags for the engine alone (e.g. GC sizing), not for this harness or the load.
          ...(process.env.ENGINE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.ENGINE_NODE_OPTIONS } : {}),
          PORT: String(PORT + i),
          KEY_PREFIX: prefix,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    ),
  );
  try {
    for (let i = 0; i < engines.length; i++) await waitFor(`http://127.0.0.1:${PORT + i}/health/ready`);
    const costBefore = await idleCost(redis, engines); // 3 s with no load first
    for (const e of engines) e.kill('SIGWINCH'); // the loop probe counts from here
    process.stderr.write(`load: ${values.connections} connections for ${values.seconds} s...\n`);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        'node',
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--load',
          '--port',
          String(PORT),
          '--seconds',
          values.seconds!,
          '--connections',
          values.connections!,
          '--accounts',
          String(ACCOUNTS),
          '--engines',
          values.engines!,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let s = '';
      child.stdout.on('data', (c: Buffer) => (s += c.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`load exited ${code}`))));
    });
    const costAfter = await cost(redis, engines);
    const r = JSON.parse(out) as {
      requests: number;
      failed: number;
      rps: number;
      p50: string;
      p99: string;
      p999: string;
    };
    console.log(
      `mix per scenario: 40 % SMS events (1 request), 30 % voice sessions (initiate, terminate), 30 % data sessions (initiate, update, terminate); ${ACCOUNTS} accounts`,
    );
    console.log(
      `| ${values.connections} connections | ${r.rps.toLocaleString('en')} req/s | p50 ${r.p50} ms | p99 ${r.p99} ms | p999 ${r.p999} ms | ${r.failed} failed of ${r.requests} |`,
    );
    console.log(costLine(costBefore, costAfter, r.requests, Number(values.seconds)));
  } finally {
    for (const e of engines) e.kill('SIGTERM');
    // The loop probe's last words; an engine already gone has none.
    await Promise.all(
      engines.map((e) => (e.exitCode === null ? new Promise((ok) => e.once('exit', ok)) : null)),
    );
    await deleteUnder(redis, prefix); // every master's keys, on a Cluster
    await redis.quit();
  }
}

await main();
