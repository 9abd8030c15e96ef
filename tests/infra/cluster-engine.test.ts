/**
 * The engine as an operator runs it on a Redis Cluster: two engine processes (src/main.ts) started
 * together on a 3-master Cluster this test starts (REDIS_CLUSTER_NODES) and on a new DB_SCHEMA,
 * with the demo keys (their accounts are seeded through the Cluster). Accounts, events and a session
 * that moves between the engines are answered, the drains store the ledger in PostgreSQL, readiness
 * says ready; with the Cluster stopped readiness says 503 and requests 503 with Retry-After.
 * Readiness also says not-ready while a slot is not served.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { checkRedisReady, connectRedis } from '../../src/infra/redis.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureEngineSchema } from '../../src/storage/schema.js';
import { decimalToNano } from '../../src/rating/money.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { startEngine, type EngineProcess } from './engine-process.js';

// Ports no other test uses (cluster.test.ts: 7100.., identity-cluster.test.ts: 7250..).
const BASE = 7550 + (process.pid % 50) * 3;
const dir = mkdtempSync(join(tmpdir(), 'ocs-cluster-engine-'));
const { pool, schema } = testPostgres();
const prefix = `t${randomBytes(4).toString('hex')}:`;
const engines: EngineProcess[] = [];
let cluster: Cluster | undefined;

const BILLING = 'Bearer demo-billing';
const NET = 'Bearer demo-network';

function startCluster(): void {
  execFileSync('bash', ['scripts/start-redis-cluster.sh', String(BASE), join(dir, 'redis')], {
    stdio: 'pipe',
  });
}

function stopCluster(): void {
  execFileSync('bash', ['scripts/stop-redis-cluster.sh', join(dir, 'redis')]);
}

async function stopEngine(e: EngineProcess): Promise<void> {
  if (e.child.exitCode !== null || e.child.signalCode !== null) return;
  e.child.kill('SIGTERM');
  const timer = setTimeout(() => e.child.kill('SIGKILL'), 15_000);
  await e.exited;
  clearTimeout(timer);
}

beforeAll(() => startCluster(), 60_000);

afterAll(async () => {
  await cluster?.quit().catch(() => undefined);
  await Promise.all(engines.map(stopEngine));
  stopCluster();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function call(
  e: EngineProcess,
  method: string,
  path: string,
  auth: string,
  body?: object,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(`${e.baseUrl}${path}`, {
    method,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return {
    status: r.status,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: r.headers,
  };
}

/** Runs the command line with this environment; its exit code and everything it wrote. */
async function cliRun(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((ok) => child.once('exit', ok));
  return { code, output };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

const subscriber = [{ type: 'E164', data: '447700900077' }];

function sms(at: string) {
  return {
    requestedAction: 'DIRECT_DEBITING',
    eventTime: at,
    serviceContextId: '32274@3gpp.org',
    subscriptionIds: subscriber,
    serviceInformation: { sms: { recipients: ['447911123456'] } },
    mscc: [{ ratingGroup: 300 }],
  };
}

describe('the engine on a Redis Cluster', () => {
  it('two engines start together on a new schema, charge through the Cluster, and say 503 without it', async () => {
    const env = (name: string) => ({
      REDIS_CLUSTER_NODES: `127.0.0.1:${BASE},127.0.0.1:${BASE + 1}`,
      DATABASE_URL: databaseUrl(),
      DB_SCHEMA: schema,
      KEY_PREFIX: prefix,
      DATA_DIR: join(dir, name),
      LOCAL_REDIS_PORT: '0',
    });
    // B names the Cluster by URL instead: the same Cluster.
    const { REDIS_CLUSTER_NODES: _nodes, ...rest } = env('b');
    const byUrl = { ...rest, REDIS_URL: `redis+cluster://127.0.0.1:${BASE + 2}` };
    const [a, b] = await Promise.all([startEngine(env('a')), startEngine(byUrl)]);
    engines.push(a!, b!);
    expect(a!.output()).toMatch(/balances: Redis Cluster at 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+: 3 masters/);
    expect(b!.output()).toMatch(/balances: Redis Cluster at 127\.0\.0\.1:\d+: 3 masters/);

    // The demo accounts were seeded through the Cluster; a new account is created on it.
    expect((await call(b!, 'GET', '/v1/accounts/alice', BILLING)).status).toBe(200);
    const created = await call(a!, 'POST', '/v1/accounts', BILLING, {
      id: 'carol',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'carol',
      subscriptions: [{ type: 'msisdn', value: '447700900077' }],
      reference: 'crm-carol',
    });
    expect(created.status).toBe(201);
    const balance = await call(b!, 'POST', '/v1/accounts/carol/balances', BILLING, {
      id: 'main',
      unit: 'money',
      value: '10.00',
      reference: 'crm-carol-main',
    });
    expect(balance.status).toBe(201);

    // Events on both engines, a session initiated on A, updated on B, terminated on A.
    expect((await call(a!, 'POST', '/v1/events/sms-a', NET, sms('2026-11-20T10:10:00Z'))).status).toBe(200);
    expect((await call(b!, 'POST', '/v1/events/sms-b', NET, sms('2026-11-20T10:11:00Z'))).status).toBe(200);
    const session = (phase: string, requestNumber: number, extra: object) =>
      call(phase === 'update' ? b! : a!, 'POST', `/v1/sessions/cs1/${phase}`, NET, {
        requestNumber,
        ...extra,
      });
    const init = await session('initiate', 0, {
      eventTime: '2026-11-20T10:00:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: subscriber,
      serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
      mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
    });
    expect(init.status).toBe(200);
    const update = await session('update', 1, {
      eventTime: '2026-11-20T10:01:00Z',
      mscc: [{ ratingGroup: 100, used: [{ time: 60 }], requested: { time: 60 } }],
    });
    expect(update.status).toBe(200);
    const end = await session('terminate', 2, {
      eventTime: '2026-11-20T10:01:30Z',
      terminationCause: 'DIAMETER_LOGOUT',
      mscc: [{ ratingGroup: 100, used: [{ time: 30 }] }],
    });
    expect(end.status).toBe(200);

    // The command line imports CDRs through the same Cluster (its workers reach every master).
    const cdrs = join(dir, 'carol.csv');
    writeFileSync(
      cdrs,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group\n' +
        [1, 2, 3]
          .map((i) => `cl-${i},acme,447700900077,sms,sms,+447911123456,2026-11-20T11:0${i}:00Z,1,,`)
          .join('\n') +
        '\n',
    );
    const imported = await cliRun(['cdr', 'import', cdrs], { ...env('cli'), TARIFF_DIR: 'tariffs/sample' });
    expect(imported.output).toContain('Redis Cluster at');
    expect(imported.code).toBe(0);
    const rated = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE account_id = 'carol'`,
    );
    expect(rated.rows[0].n).toBe(3);

    // The drains store every movement in PostgreSQL: the ledger sums to the balance.
    const account = await call(a!, 'GET', '/v1/accounts/carol', BILLING);
    const main = (account.json.balances as { id: string; value: string }[]).find((x) => x.id === 'main')!;
    const valueNano = decimalToNano(main.value);
    expect(valueNano).toBeLessThan(decimalToNano('10'));
    await until('the ledger in PostgreSQL', 20_000, async () => {
      const r = await pool
        .query<{ sum: string | null }>(
          `SELECT sum(delta)::text AS sum FROM ${schema}.balance_ledger
            WHERE tenant = 'acme' AND account_id = 'carol' AND balance_id = 'main'`,
        )
        .catch(() => undefined);
      return r?.rows[0]?.sum === String(valueNano) ? true : undefined;
    });
    for (const e of [a!, b!]) expect((await call(e, 'GET', '/health/ready', BILLING)).status).toBe(200);
    // Nothing failed on a slot of another node (MOVED) or a deadlock in the background.
    for (const e of [a!, b!]) expect(e.output()).not.toMatch(/MOVED|CROSSSLOT|deadlock/);

    // The Cluster stops: readiness and requests say 503, with Retry-After.
    stopCluster();
    for (const e of [a!, b!])
      await until('readiness 503', 10_000, async () =>
        (await call(e, 'GET', '/health/ready', BILLING)).status === 503 ? true : undefined,
      );
    const refused = await call(a!, 'POST', '/v1/events/sms-c', NET, sms('2026-11-20T10:12:00Z'));
    expect(refused.status).toBe(503);
    expect(refused.json.cause).toBe('UNAVAILABLE');
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    await Promise.all(engines.map(stopEngine));
    startCluster(); // a fresh one for the next test
  }, 240_000);

  it('is not ready while a slot is not served', async () => {
    cluster = new Cluster([{ host: '127.0.0.1', port: BASE }], {
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    cluster.on('error', () => undefined).on('node error', () => undefined);
    const ready = () =>
      checkRedisReady(cluster!).then(
        () => true,
        () => undefined,
      );
    await until('ready', 10_000, ready);
    const owner = cluster.nodes('master')[0]!;
    const slot = firstSlot(String(await owner.call('CLUSTER', 'NODES')));
    await owner.call('CLUSTER', 'DELSLOTS', slot);
    await expect(checkRedisReady(cluster)).rejects.toThrow(/slots served/);
    await owner.call('CLUSTER', 'ADDSLOTS', slot);
    await until('ready again', 10_000, ready);
  }, 60_000);
});

describe('drains on a Cluster', () => {
  it('two engines draining at once store every movement once', async () => {
    const handle = await connectRedis({
      cluster: { nodes: [{ host: '127.0.0.1', port: BASE }], tls: false },
      dataDir: dir,
      say: () => undefined,
    });
    const keyPrefix = `d${randomBytes(4).toString('hex')}:`;
    const store = createBalanceStore({ redis: handle.redis, keyPrefix });
    const ids = Array.from({ length: 24 }, (_, i) => `d${i}`);
    try {
      await ensureEngineSchema(pool, schema);
      for (const id of ids) {
        await store.createAccount(
          { tenant: 'dr', id, type: 'prepaid', currency: 'EUR', subject: id },
          `c-${id}`,
        );
        await store.addBalance('dr', id, { id: 'main', unit: 'money', value: 1_000_000 }, `b-${id}`);
        for (let k = 0; k < 5; k++)
          await store.debit('dr', id, {
            opId: `x-${id}-${k}`,
            charge: { unit: 'sms', units: 1, amountNano: 7 },
          });
      }
      // Two drains at once, both reading every outbox in small batches, until nothing is left.
      const drain = () =>
        drainOutboxes({ redis: handle.redis, pool, schema, keyPrefix, full: true, batchSize: 2 });
      for (let i = 0; i < 20; i++) if ((await Promise.all([drain(), drain()])).every((n) => n === 0)) break;
      const r = await pool.query<{ n: number; sum: string }>(
        `SELECT count(*)::int AS n, sum(delta)::text AS sum FROM ${schema}.balance_ledger WHERE tenant = 'dr'`,
      );
      expect(r.rows[0]).toEqual({ n: ids.length * 6, sum: String(ids.length * (1_000_000 - 5 * 7)) });
    } finally {
      await handle.stop();
    }
  }, 60_000);
});

describe('a Cluster with replicas (scripts/start-redis-cluster.sh, REPLICAS=1)', () => {
  // Six ports of its own, away from the other Cluster tests.
  const base = 7700 + (process.pid % 50) * 6;
  const where = join(dir, 'replicas');
  let client: Cluster | undefined;

  afterAll(async () => {
    await client?.quit().catch(() => undefined);
    execFileSync('bash', ['scripts/stop-redis-cluster.sh', where]);
  });

  it('has 3 masters and 3 replicas; a master killed is not ready until its replica serves its slots', async () => {
    execFileSync('bash', ['scripts/start-redis-cluster.sh', String(base), where], {
      stdio: 'pipe',
      env: { ...process.env, REPLICAS: '1' },
    });
    const said: string[] = [];
    const handle = await connectRedis({
      cluster: { nodes: [{ host: '127.0.0.1', port: base }], tls: false },
      dataDir: where,
      commandTimeoutMs: 2000,
      say: (line) => said.push(line),
    });
    client = handle.redis as Cluster;
    expect(handle.description).toBe(`Redis Cluster at 127.0.0.1:${base}: 3 masters`);
    const ready = () =>
      checkRedisReady(client!).then(
        () => true,
        () => undefined,
      );
    await until('ready', 10_000, ready);
    expect(client.nodes('master')).toHaveLength(3);
    const roles = String(await client.nodes('master')[0]!.call('CLUSTER', 'NODES'))
      .split('\n')
      .filter((l) => / (myself,)?slave /.test(l));
    expect(roles).toHaveLength(3);

    const victim = client.nodes('master')[0]!;
    const port = victim.options.port!;
    const key = `k{${port}}`;
    await client.set(key, '1'); // somewhere; read back after the failover
    process.kill(Number(readFileSync(join(where, String(port), 'redis.pid'), 'utf8')), 'SIGKILL');
    await until('not ready', 10_000, async () => ((await ready()) ? undefined : true));
    await until('ready after the failover', 30_000, ready);
    expect(client.nodes('master').map((n) => n.options.port)).not.toContain(port);
    expect(await client.incr(key)).toBeGreaterThan(0);
    // The lost node was told, once.
    expect(said.filter((l) => l.includes(`lost Cluster node 127.0.0.1:${port}`))).toHaveLength(1);
  }, 90_000);
});

/** The first slot the node that wrote this CLUSTER NODES answer serves. */
function firstSlot(nodes: string): number {
  const mine = nodes.split('\n').find((l) => l.includes('myself'))!;
  return Number(mine.split(' ')[8]!.split('-')[0]);
}
