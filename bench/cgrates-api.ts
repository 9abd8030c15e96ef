/**
 * What the CGRateS facade costs (issue 15): APIerSv1.GetCost through POST /jsonrpc against the
 * native POST /v1/rating/price, and a whole call through SessionSv1.Initiate/Update×2/Terminate
 * against the native /v1/sessions routes, on one engine process with the load client in another,
 * in alternating rounds (native, facade, native, facade …) so the box's load hits both alike.
 * The ceiling is the native route measured in the same run; the figure is facade / native.
 *
 *   npm run bench:cgrates [-- --seconds 5 --connections 8 --rounds 2]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createBalanceStore } from '../src/balances/store.js';
import { createDirectory } from '../src/charging/directory.js';
import { createSessions } from '../src/charging/sessions.js';
import { DEMO_KEYS } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { openActiveTariff } from '../src/tariffs/active.js';
import { calibrate } from './lib/calibrate.js';
import { runLoad, type LoadRequest } from './lib/http-load.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    serve: { type: 'boolean', default: false },
    // 0: any free port (the engine process says which once it listens).
    port: { type: 'string', default: '0' },
  },
});
let PORT = Number(values.port);
const MSISDN = '447700900999';

async function serve(): Promise<void> {
  const prefix = `bench-cgr-${randomBytes(3).toString('hex')}:`;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  const tariff = await openActiveTariff('tariffs/sample');
  const directory = createDirectory(balances);
  const sessions = createSessions({ balances, directory, tariff: () => tariff.current(), now: Date.now });
  const subscriptions = [{ type: 'msisdn', value: MSISDN }];
  await balances.createAccount(
    { tenant: 'acme', id: 'bench', type: 'prepaid', currency: 'GBP', subject: 'bench', subscriptions },
    'bench-create',
  );
  await balances.addBalance('acme', 'bench', { id: 'main', unit: 'money', value: 9e15 }, 'bench-money');
  const app = await buildApp({
    apiKeys: DEMO_KEYS,
    maxInFlight: 10_000,
    tariff,
    balances,
    sessions,
    directory,
    cgrates: { currency: 'GBP' },
    health: { redis },
    logger: false,
  });
  await app.listen({ port: PORT, host: '127.0.0.1' });
  console.log(`ready ${(app.server.address() as { port: number }).port}`);
  const stop = async () => {
    await app.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
}

const T = '2026-11-20T10:15:00Z';
const rpc = (method: string, arg: object) => JSON.stringify({ method, params: [arg], id: 1 });
const event = (id: string, more: object) => ({
  Event: {
    Account: MSISDN,
    Destination: '+442071234567',
    OriginID: id,
    ToR: '*voice',
    AnswerTime: T,
    ...more,
  },
});
const ccr = (n: number, more: object) => JSON.stringify({ requestNumber: n, eventTime: T, ...more });
const MSCC = (more: object) => ({ mscc: [{ ratingGroup: 100, ...more }] });
const run = randomBytes(3).toString('hex');

const SCENARIOS: Record<string, (n: number) => LoadRequest[]> = {
  'price native': () => [
    {
      method: 'POST',
      path: '/v1/rating/price',
      body: JSON.stringify({
        category: 'call',
        subject: 'x',
        destination: '+442071234567',
        answerTime: T,
        usage: 95,
        tor: 'voice',
      }),
    },
  ],
  'price facade': () => [
    {
      method: 'POST',
      path: '/jsonrpc',
      body: rpc('APIerSv1.GetCost', {
        Category: 'call',
        Subject: 'x',
        Destination: '+442071234567',
        AnswerTime: T,
        Usage: '95s',
      }),
    },
  ],
  'call native': (n) => {
    const s = `/v1/sessions/n-${run}-${n}`;
    const init = {
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: MSISDN }],
      serviceInformation: { ims: { calledParty: '+442071234567' } },
      ...MSCC({ requested: { time: 60 } }),
    };
    return [
      { method: 'POST', path: `${s}/initiate`, body: ccr(0, init) },
      {
        method: 'POST',
        path: `${s}/update`,
        body: ccr(1, MSCC({ requested: { time: 60 }, used: [{ time: 60 }] })),
      },
      {
        method: 'POST',
        path: `${s}/update`,
        body: ccr(2, MSCC({ requested: { time: 60 }, used: [{ time: 60 }] })),
      },
      { method: 'POST', path: `${s}/terminate`, body: ccr(3, MSCC({ used: [{ time: 35 }] })) },
    ];
  },
  'call facade': (n) => {
    const id = `f-${run}-${n}`;
    const m = (method: string, flag: string, more: object) => ({
      method: 'POST' as const,
      path: '/jsonrpc',
      body: rpc(method, { [flag]: true, ...event(id, more) }),
    });
    return [
      m('SessionSv1.InitiateSession', 'InitSession', { Usage: '60s' }),
      m('SessionSv1.UpdateSession', 'UpdateSession', { Usage: '60s', LastUsed: '60s', RequestNumber: 1 }),
      m('SessionSv1.UpdateSession', 'UpdateSession', { Usage: '60s', LastUsed: '60s', RequestNumber: 2 }),
      m('SessionSv1.TerminateSession', 'TerminateSession', { LastUsed: '35s', RequestNumber: 3 }),
    ];
  },
};

async function measure(name: string, seconds = Number(values.seconds)): Promise<number> {
  const r = await runLoad({
    port: PORT,
    connections: Number(values.connections),
    seconds,
    headers: { authorization: 'Bearer demo-network' },
    scenario: SCENARIOS[name]!,
  });
  if (r.failed)
    throw new Error(`${name}: ${r.failed} failed ${JSON.stringify(r.errors)} ${r.firstError ?? ''}`);
  return r.requests / r.seconds;
}

async function main(): Promise<void> {
  if (values.serve) return serve();
  console.log(
    `calib ${calibrate()} Miter/s, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const server = spawn(
    'node',
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', '--port', String(PORT)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  PORT = await new Promise<number>((ok) =>
    server.stdout.once('data', (d: Buffer) => ok(Number(/ready (\d+)/.exec(d.toString())?.[1]))),
  );
  try {
    // One second of each first: the first requests pay for compiling, on either side.
    for (const name of Object.keys(SCENARIOS)) await measure(name, 1);
    for (const kind of ['price', 'call']) {
      const sums = { native: 0, facade: 0 };
      for (let round = 0; round < Number(values.rounds); round++) {
        // Alternate which goes first, so a warming or loading box favours neither.
        const order = round % 2 === 0 ? (['native', 'facade'] as const) : (['facade', 'native'] as const);
        for (const side of order) {
          const rate = await measure(`${kind} ${side}`);
          sums[side] += rate;
          console.log(`${kind} ${side} round ${round + 1}: ${rate.toFixed(0)} requests/s`);
        }
      }
      console.log(`${kind}: facade / native = ${(sums.facade / sums.native).toFixed(2)}`);
    }
    console.log(
      `load average after ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    server.kill('SIGTERM');
  }
}

await main();
