/**
 * Instructions Redis spends per charging step, counted by callgrind: a private redis-server runs
 * under valgrind, the engine's charging code drives it, and callgrind counts the instructions of the
 * measured part only. Unlike a timing, the count is the same on a busy or an idle box, so a change
 * to a Lua script can be judged by one run.
 *
 *   npm run bench:redis-cost [-- --sessions 300]
 *
 * Needs valgrind (apt-get install valgrind) and redis-server on PATH.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import net from 'node:net';
import { Redis } from 'ioredis';
import { createBalanceStore } from '../src/balances/store.js';
import { createDirectory } from '../src/charging/directory.js';
import { chargeEvent } from '../src/charging/events.js';
import { createSessions } from '../src/charging/sessions.js';
import { openActiveTariff } from '../src/tariffs/active.js';

const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '300' }, port: { type: 'string', default: '6391' } },
});
const SESSIONS = Number(values.sessions);
const port = Number(values.port);
const dir = mkdtempSync(join(tmpdir(), 'redis-cg-'));
const server = spawn(
  'valgrind',
  [
    '--tool=callgrind',
    '--compress-strings=no',
    `--callgrind-out-file=${dir}/cg.%p`,
    process.env.REDIS_SERVER ?? 'redis-server',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
  ],
  { stdio: 'ignore' },
);

/** Instructions since the previous call (each dump holds the count since the one before). */
function instructions(): number {
  execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('cg.'))
    .sort();
  const last = readFileSync(join(dir, files[files.length - 1]!), 'utf8');
  const m = /^summary: (\d+)/m.exec(last) ?? /^totals: (\d+)/m.exec(last);
  return Number(m![1]);
}

async function listening(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((ok) => {
      const c = net.connect({ port }, () => (c.end(), ok(true)));
      c.on('error', () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('redis-server under valgrind did not start');
}

await listening();
const redis = new Redis({ port, enableAutoPipelining: true });
try {
  const balances = createBalanceStore({ redis, keyPrefix: 'cg:' });
  const directory = createDirectory(balances);
  const tariff = await openActiveTariff('tariffs/sample');
  const sessions = createSessions({ balances, directory, tariff: () => tariff.current(), now: Date.now });
  const msisdn = (i: number) => `4477${String(i).padStart(8, '0')}`;
  for (let i = 0; i < 100; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `b${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `b${i}`,
        subscriptions: [{ type: 'msisdn', value: msisdn(i) }],
      },
      'c',
    );
    await balances.addBalance('acme', `b${i}`, { id: 'main', unit: 'money', value: 1e15 }, 'b');
  }
  const t = '2026-11-20T10:15:00Z';
  const sub = (i: number) => [{ type: 'E164', data: msisdn(i % 100) }];
  const voice = async (i: number) => {
    await sessions.handle('acme', `v${i}`, 'initiate', {
      requestNumber: 0,
      eventTime: t,
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: sub(i),
      serviceInformation: { ims: { calledParty: 'tel:+442071234567' } },
      mscc: [{ ratingGroup: 100, requested: { time: 120 } }],
    });
    await sessions.handle('acme', `v${i}`, 'terminate', {
      requestNumber: 1,
      eventTime: t,
      mscc: [{ ratingGroup: 100, used: [{ time: 95 }] }],
    });
  };
  const sms = (i: number) =>
    chargeEvent(
      { tariff: () => tariff.current(), balances, directory },
      'acme',
      `e${i}`,
      {
        requestedAction: 'DIRECT_DEBITING',
        eventTime: t,
        serviceContextId: '32274@3gpp.org',
        subscriptionIds: sub(i),
        serviceInformation: { sms: { recipients: ['447911123456'] } },
        mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
      },
      Date.now(),
    );
  for (let i = 0; i < 20; i++) await voice(1_000_000 + i); // warm: library loaded, caches filled
  for (let i = 0; i < 20; i++) await sms(1_000_000 + i);
  const measure = async (what: string, run: (i: number) => Promise<unknown>, steps: number) => {
    instructions(); // from here
    await redis.config('RESETSTAT');
    for (let i = 0; i < SESSIONS; i++) await run(i);
    const used = instructions();
    if (process.env.SHOW_COMMANDS)
      console.log(
        (await redis.info('commandstats'))
          .split('\n')
          .filter((l) => l.startsWith('cmdstat'))
          .join('\n'),
      );
    console.log(
      `${what}: ${Math.round(used / (SESSIONS * steps)).toLocaleString('en')} instructions per step in Redis`,
    );
  };
  await measure('voice session (initiate + terminate)', voice, 2);
  await measure('SMS event (direct debit)', sms, 1);
} finally {
  await redis.quit().catch(() => undefined);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  if (process.env.KEEP_CALLGRIND) console.log(`callgrind output kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
