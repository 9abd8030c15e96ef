/**
 * Redis killed (SIGKILL) and restarted under charging load, through the HTTP app with its deadlines,
 * on a private redis-server this test starts (AOF fsynced at every write, so what was answered
 * survives). Every request is answered 2xx, or 503 UNAVAILABLE with Retry-After, within its deadline
 * (plus slack for a loaded machine), never 500 and never hung; clients retry a 503 with the same id
 * until it is answered; afterwards the money is exact (what clients were told equals what left the
 * balances: no charge lost, none twice) and the app still charges.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore, type BalanceStore } from '../../src/balances/store.js';
import { createDirectory } from '../../src/charging/directory.js';
import { createSessions } from '../../src/charging/sessions.js';
import { DEMO_KEYS } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { failFastOptions, startPrivateRedis, whenReady } from '../../src/infra/redis.js';
import { decimalToNano } from '../../src/rating/money.js';
import { openActiveTariff } from '../../src/tariffs/active.js';

const DEADLINE_MS = 1000;
const SLACK_MS = 2000; // two cores shared with other test files
const ACCOUNTS = 4;
const START_NANO = 1_000_000_000_000; // 1000.00 each
const NET = { authorization: 'Bearer demo-network' };

const dir = mkdtempSync(join('/tmp', 'ocs-outage-r-'));
let server: ChildProcess;
let redis: Redis;
let app: FastifyInstance;
let store: BalanceStore;

async function startRedis(): Promise<string> {
  const started = await startPrivateRedis(dir, undefined, ['--appendfsync', 'always']);
  server = started.child;
  return started.socket;
}

async function killRedis(): Promise<void> {
  const exited = new Promise((ok) => server.once('exit', ok));
  server.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  const socket = await startRedis();
  redis = new Redis({ ...failFastOptions(), path: socket });
  redis.on('error', () => undefined); // an outage is what this test is about
  await whenReady(redis, 5000, 'the test redis-server');
  store = createBalanceStore({ redis, keyPrefix: 'ocs:' });
  const tariff = await openActiveTariff('tariffs/sample');
  const directory = createDirectory(store);
  const sessions = createSessions({
    balances: store,
    directory,
    tariff: () => tariff.current(),
    now: Date.now,
  });
  app = await buildApp({
    apiKeys: DEMO_KEYS,
    maxInFlight: 1000,
    tariff,
    balances: store,
    sessions,
    directory,
    health: { redis },
    deadlines: { chargingMs: DEADLINE_MS, provisioningMs: DEADLINE_MS },
  });
  for (let i = 0; i < ACCOUNTS; i++) {
    await store.createAccount(
      {
        tenant: 'acme',
        id: `a${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `a${i}`,
        subscriptions: [{ type: 'msisdn', value: msisdnOf(i) }],
      },
      `create-a${i}`,
    );
    await store.addBalance('acme', `a${i}`, { id: 'main', unit: 'money', value: START_NANO }, `main-a${i}`);
  }
}, 30_000);

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function msisdnOf(i: number): string {
  return `4477009${String(i).padStart(5, '0')}`;
}

interface Seen {
  statuses: Map<number, number>;
  slowestMs: number;
  missingRetryAfter: number;
  toldNano: bigint;
  unavailable: number;
}

const seen: Seen = {
  statuses: new Map(),
  slowestMs: 0,
  missingRetryAfter: 0,
  toldNano: 0n,
  unavailable: 0,
};

/** Sends one request until it is answered 2xx (a 503 is retried with the same id and body). */
async function untilAnswered(url: string, payload: object): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const t0 = performance.now();
    const r = await app.inject({ method: 'POST', url, headers: NET, payload });
    seen.slowestMs = Math.max(seen.slowestMs, performance.now() - t0);
    seen.statuses.set(r.statusCode, (seen.statuses.get(r.statusCode) ?? 0) + 1);
    if (r.statusCode === 200) return r.json();
    if (r.statusCode !== 503) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
    seen.unavailable++;
    if (r.headers['retry-after'] === undefined) seen.missingRetryAfter++;
    expect(r.headers['content-type']).toContain('application/problem+json');
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${url}: never answered`);
}

const at = '2026-11-20T10:10:00Z'; // peak: an SMS is 0.04

const sms = (client: number) => ({
  requestedAction: 'DIRECT_DEBITING',
  eventTime: at,
  serviceContextId: '32274@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdnOf(client % ACCOUNTS) }],
  serviceInformation: { sms: { recipients: ['447911123456'] } },
  mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
});

async function chargeEvent(client: number, n: number): Promise<void> {
  const a = await untilAnswered(`/v1/events/ev-${client}-${n}`, sms(client));
  expect(a.resultCode).toBe(2001);
  seen.toldNano += BigInt(decimalToNano((a.costInformation as { amount: string }).amount));
}

async function chargeCall(client: number, n: number): Promise<void> {
  const url = (phase: string) => `/v1/sessions/call-${client}-${n}/${phase}`;
  const voice = [{ ratingGroup: 100, requested: { time: 60 } }];
  await untilAnswered(url('initiate'), {
    requestNumber: 0,
    eventTime: at,
    serviceContextId: '32260@3gpp.org',
    subscriptionIds: [{ type: 'E164', data: msisdnOf(client % ACCOUNTS) }],
    serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
    mscc: voice,
  });
  await untilAnswered(url('update'), {
    requestNumber: 1,
    eventTime: at,
    mscc: [{ ...voice[0], used: [{ time: 30 }] }],
  });
  const t = await untilAnswered(url('terminate'), {
    requestNumber: 2,
    eventTime: at,
    mscc: [{ ratingGroup: 100, used: [{ time: 20 }] }],
  });
  expect(t.resultCode).toBe(2001);
  seen.toldNano += BigInt(decimalToNano((t.costInformation as { amount: string }).amount));
}

/** A client charging events and calls in turn until told to stop. */
async function client(id: number, running: () => boolean): Promise<void> {
  for (let n = 0; running(); n++) {
    if (n % 3 === 2) await chargeCall(id, n);
    else await chargeEvent(id, n);
  }
}

async function moneyLeftNano(): Promise<bigint> {
  let sum = 0n;
  for (let i = 0; i < ACCOUNTS; i++) {
    const view = (await store.getAccount('acme', `a${i}`))!;
    const main = view.balances.find((b) => b.id === 'main')!;
    expect(main.held).toBe(0);
    sum += BigInt(main.value);
  }
  return sum;
}

async function readyStatus(): Promise<number> {
  return (await app.inject({ url: '/health/ready' })).statusCode;
}

describe('Redis killed and restarted under load', () => {
  it('answers 2xx or 503 with Retry-After in time, never 500, and charges exactly once', async () => {
    let load = true;
    const clients = Array.from({ length: 8 }, (_, i) => client(i, () => load));
    await new Promise((ok) => setTimeout(ok, 1500));

    await killRedis();
    const killedAt = performance.now();
    let readyNotAt = Infinity;
    for (let i = 0; i < 40 && readyNotAt === Infinity; i++) {
      if ((await readyStatus()) === 503) readyNotAt = performance.now() - killedAt;
      else await new Promise((ok) => setTimeout(ok, 25));
    }
    expect(readyNotAt).toBeLessThan(1000);
    await new Promise((ok) => setTimeout(ok, 4000)); // down, under load: longer than the deadline and its slack
    await startRedis();
    await new Promise((ok) => setTimeout(ok, 2000)); // back, under load
    load = false;
    await Promise.all(clients);

    expect(seen.statuses.get(500) ?? 0).toBe(0);
    expect([...seen.statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(seen.unavailable).toBeGreaterThan(0);
    expect(seen.missingRetryAfter).toBe(0);
    expect(seen.slowestMs).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(seen.toldNano).toBeGreaterThan(0n);
    expect(BigInt(ACCOUNTS * START_NANO) - (await moneyLeftNano())).toBe(seen.toldNano);

    expect(await readyStatus()).toBe(200);
    const before = seen.toldNano;
    await chargeEvent(0, 1_000_000);
    expect(seen.toldNano - before).toBe(40_000_000n); // an SMS: 0.04
  }, 60_000);

  it('answers 503 at the deadline while Redis hangs, and a retry after it answers again charges once', async () => {
    const left = await moneyLeftNano();
    server.kill('SIGSTOP'); // a hung server: connections stay open, nothing answers
    try {
      const t0 = performance.now();
      const hung = await app.inject({
        method: 'POST',
        url: '/v1/events/hung-1',
        headers: NET,
        payload: sms(0),
      });
      const tookMs = performance.now() - t0;
      expect(hung.statusCode).toBe(503);
      expect(hung.json()).toMatchObject({ cause: 'UNAVAILABLE' });
      expect(hung.headers['retry-after']).toBe('1');
      expect(tookMs).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(tookMs).toBeLessThan(DEADLINE_MS + SLACK_MS);
    } finally {
      server.kill('SIGCONT'); // the step sent before the deadline now runs
    }
    const retried = await untilAnswered('/v1/events/hung-1', sms(0));
    expect(retried.resultCode).toBe(2001);
    expect(left - (await moneyLeftNano())).toBe(40_000_000n); // once, whoever applied it
  }, 30_000);
});
