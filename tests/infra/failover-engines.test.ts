/**
 * Issue 16, done when: two engine processes on a 3-master 3-replica Redis Cluster, one PostgreSQL,
 * under a load that mixes charging events, voice sessions moving between the engines, repeats sent
 * to both engines at the same instant, top-ups, and refusals on nearly empty accounts; a master is
 * killed -9 mid-run. Clients act as network elements and billing systems do: a 503 is retried with
 * the same id until it is answered.
 *
 * Demanded: every answer is 2xx or 503 with Retry-After (never 500, never a hang); after the
 * failover every balance is, to the nano, its opening value plus the top-ups and minus the charges
 * the clients were told (no double charge, nothing lost), none below zero and nothing left held;
 * every repeat, at the same instant or afterwards, answers byte for byte what the first did; the
 * ledger in PostgreSQL sums to every balance.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalToNano } from '../../src/rating/money.js';
import { testPostgres } from '../support/postgres.js';
import type { EngineProcess } from './engine-process.js';
import {
  accountSlot,
  call,
  engineOn,
  startTestCluster,
  stopEngine,
  until,
  type Answer,
  type TestCluster,
} from './failover-cluster.js';

// Redis ports 8150..8299 (failover-topup.test.ts: 8000..8149).
const BASE = 8150 + (process.pid % 25) * 6;
const dir = mkdtempSync(join(tmpdir(), 'ocs-failover-engines-'));
const { pool, schema } = testPostgres();
const prefix = `g${randomBytes(4).toString('hex')}:`;
const BILLING = 'Bearer demo-billing';
const NET = 'Bearer demo-network';
let cluster: TestCluster;
let engines: EngineProcess[] = [];

beforeAll(() => {
  cluster = startTestCluster(BASE, join(dir, 'redis'));
}, 60_000);

afterAll(async () => {
  await Promise.all(engines.map(stopEngine));
  cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Every answer a client got, first try or retry: the statuses the test demands. */
const seen: { status: number; retryAfter: string | null; what: string; body: string }[] = [];

/** Sends a request until it is answered otherwise than 503 (the same id every time). */
async function settled(e: () => EngineProcess, method: string, path: string, auth: string, body?: object) {
  const end = Date.now() + 90_000;
  for (;;) {
    const r = await call(e(), method, path, auth, body, 20_000);
    seen.push({ status: r.status, retryAfter: r.headers.get('retry-after'), what: path, body: r.body });
    if (r.status !== 503 || Date.now() > end) return r;
    await new Promise((ok) => setTimeout(ok, 150));
  }
}

const pick = () => engines[Math.floor(Math.random() * 2)]!;

interface Customer {
  id: string;
  msisdn: string;
  openingNano: number;
  /** Top-ups answered 200. */
  creditedNano: number;
  /** What the answers said was charged (events 2001, sessions at their end). */
  toldNano: number;
}

/** Requests a test repeats at the end, with the body first answered. */
const answered: { path: string; auth: string; body: object; first: string }[] = [];

function sms(c: Customer) {
  return {
    requestedAction: 'DIRECT_DEBITING',
    eventTime: new Date().toISOString(),
    serviceContextId: '32274@3gpp.org',
    subscriptionIds: [{ type: 'E164', data: c.msisdn }],
    serviceInformation: { sms: { recipients: ['447911123456'] } },
    mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
  };
}

function told(c: Customer, r: Answer): void {
  const amount = (r.json.costInformation as { amount?: string } | undefined)?.amount;
  if (r.status === 200 && amount && (r.json.resultCode === 2001 || r.json.sessionId))
    c.toldNano += decimalToNano(amount);
}

/** One SMS, on either engine. */
async function event(c: Customer, id: string): Promise<void> {
  const path = `/v1/events/${id}`;
  const body = sms(c);
  const r = await settled(pick, 'POST', path, NET, body);
  if (r.status === 200) answered.push({ path, auth: NET, body, first: r.body });
  told(c, r);
}

/** The same SMS sent to both engines at the same instant: one charge, one answer twice. */
async function twice(c: Customer, id: string): Promise<void> {
  const path = `/v1/events/${id}`;
  const body = sms(c);
  const [a, b] = await Promise.all(engines.map((e) => settled(() => e, 'POST', path, NET, body)));
  expect(b!.body, `${id} on both engines`).toBe(a!.body);
  if (a!.status === 200) answered.push({ path, auth: NET, body, first: a!.body });
  told(c, a!);
}

/** A call initiated on one engine, updated on the other, terminated on the first. */
async function session(c: Customer, sid: string, update: boolean): Promise<void> {
  const [x, y] = Math.random() < 0.5 ? [engines[0]!, engines[1]!] : [engines[1]!, engines[0]!];
  const step = async (e: EngineProcess, phase: string, body: object) => {
    const path = `/v1/sessions/${sid}/${phase}`;
    const r = await settled(() => e, 'POST', path, NET, body);
    if (r.status === 200) answered.push({ path, auth: NET, body, first: r.body });
    return r;
  };
  const start = Date.now();
  const at = (s: number) => new Date(start + s * 1000).toISOString();
  const init = await step(x, 'initiate', {
    requestNumber: 0,
    eventTime: at(0),
    serviceContextId: '32260@3gpp.org',
    subscriptionIds: [{ type: 'E164', data: c.msisdn }],
    serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
    mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
  });
  if (init.json.resultCode !== 2001) return; // refused: no session, nothing charged
  let n = 1;
  if (update)
    await step(y, 'update', {
      requestNumber: n++,
      eventTime: at(40),
      mscc: [{ ratingGroup: 100, used: [{ time: 40 }], requested: { time: 60 } }],
    });
  const end = await step(update ? x : y, 'terminate', {
    requestNumber: n,
    eventTime: at(update ? 67 : 33),
    terminationCause: 'DIAMETER_LOGOUT',
    mscc: [{ ratingGroup: 100, used: [{ time: update ? 27 : 33 }] }],
  });
  expect(end.status, end.body).toBe(200);
  told(c, end);
}

async function topUp(c: Customer, reference: string, amount: string): Promise<void> {
  const path = `/v1/accounts/${c.id}/credits`;
  const body = { balanceId: 'main', amount, reference };
  const r = await settled(pick, 'POST', path, BILLING, body);
  expect(r.status, r.body).toBe(200);
  c.creditedNano += decimalToNano(amount);
}

/** One account's traffic: SMS two at a time, a repeat on both engines, calls, a top-up. */
async function traffic(c: Customer, rich: boolean, rounds: number): Promise<void> {
  for (let k = 0; k < rounds; k++) {
    const work = [event(c, `${c.id}-e${k}a`), event(c, `${c.id}-e${k}b`), twice(c, `${c.id}-d${k}`)];
    if (rich || k % 4 === 0) work.push(session(c, `${c.id}-s${k}`, rich));
    if (rich && k % 3 === 1) work.push(topUp(c, `${c.id}-t${k}`, '0.50'));
    await Promise.all(work);
  }
}

async function openAccount(c: Customer, opening: string): Promise<void> {
  const a = await settled(pick, 'POST', '/v1/accounts', BILLING, {
    id: c.id,
    type: 'prepaid',
    currency: 'GBP',
    subject: c.id,
    subscriptions: [{ type: 'msisdn', value: c.msisdn }],
    reference: `crm-${c.id}`,
  });
  expect(a.status, a.body).toBe(201);
  const b = await settled(pick, 'POST', `/v1/accounts/${c.id}/balances`, BILLING, {
    id: 'main',
    unit: 'money',
    value: opening,
    reference: `crm-${c.id}-main`,
  });
  expect(b.status, b.body).toBe(201);
}

async function balanceOf(id: string): Promise<{ value: number; held: number }> {
  const r = await settled(pick, 'GET', `/v1/accounts/${id}`, BILLING);
  expect(r.status, r.body).toBe(200);
  const main = (r.json.balances as { id: string; value: string; held?: string }[]).find(
    (b) => b.id === 'main',
  )!;
  return { value: decimalToNano(main.value), held: main.held ? decimalToNano(main.held) : 0 };
}

describe('two engines on a Cluster with replicas, a master killed mid-run', () => {
  it('keeps money exact, answers 2xx or 503, repeats byte for byte, and the ledger agrees', async () => {
    const env = (name: string) => ({ schema, prefix, dataDir: join(dir, name) });
    engines = await Promise.all([engineOn(cluster, env('a')), engineOn(cluster, env('b'))]);

    const customers: (Customer & { rich: boolean })[] = Array.from({ length: 8 }, (_, i) => ({
      id: `fo${i}`,
      msisdn: `4477009100${String(i).padStart(2, '0')}`,
      rich: i % 2 === 0,
      openingNano: decimalToNano(i % 2 === 0 ? '20.00' : '0.30'),
      creditedNano: 0,
      toldNano: 0,
    }));
    for (const c of customers) await openAccount(c, c.rich ? '20.00' : '0.30');

    // The victim: the master holding the most of these accounts.
    const owners = customers.map((c) => cluster.ownerOf(accountSlot(c.id)));
    const count = new Map<number, number>();
    for (const o of owners) count.set(o.master, (count.get(o.master) ?? 0) + 1);
    const victim = [...count].sort((a, b) => b[1] - a[1])[0]![0];
    const heir = owners.find((o) => o.master === victim)!.replicas[0]!;

    // The master dies once a third of the traffic has been answered.
    const rounds = 9;
    const run = Promise.all(customers.map((c) => traffic(c, c.rich, rounds)));
    await until('a third of the traffic', 120_000, async () =>
      seen.filter((s) => s.status === 200).length > (customers.length * rounds * 4) / 3 ? true : undefined,
    );
    const beforeKill = seen.length;
    process.kill(cluster.pid(victim), 'SIGKILL');
    await run;
    expect(seen.length).toBeGreaterThan(beforeKill);
    expect(
      cluster.ownerOf(accountSlot(customers[owners.findIndex((o) => o.master === victim)]!.id)).master,
    ).toBe(heir);

    // Every answer was 2xx, or 503 with Retry-After while the slots moved; none hung (status 0).
    const bad = seen.filter((s) => !(s.status >= 200 && s.status < 300) && s.status !== 503);
    expect(bad.map((s) => `${s.status} ${s.what} ${s.body.slice(0, 200)}`)).toEqual([]);
    expect(seen.filter((s) => s.status === 503 && !s.retryAfter)).toEqual([]);
    expect(seen.some((s) => s.status === 503)).toBe(true); // the failover was felt
    // Money: to the nano what the clients were told; nothing below zero, nothing left held.
    for (const c of customers) {
      const { value, held } = await balanceOf(c.id);
      expect({ id: c.id, value, held }).toEqual({
        id: c.id,
        value: c.openingNano + c.creditedNano - c.toldNano,
        held: 0,
      });
      expect(value).toBeGreaterThanOrEqual(0);
    }
    // Nearly empty accounts were refused some of their traffic.
    expect(seen.some((s) => s.body.includes('"resultCode":4012'))).toBe(true);

    // Every request sent again answers what it first did, byte for byte, on either engine.
    for (const r of answered) {
      const again = await settled(pick, 'POST', r.path, r.auth, r.body);
      expect(again.body, r.path).toBe(r.first);
    }

    // No request logged an error, but one answered 503 at its deadline whose work failed later
    // (fastify says so; the caller was told 503 and retried). Background jobs are not judged here.
    const late = 'Promise errored, but reply.sent = true was set';
    for (const e of engines)
      expect(
        e
          .logs()
          .filter((l) => l.level >= 50 && l.reqId !== undefined && l.msg !== late)
          .map((l) => `${l.msg}: ${JSON.stringify(l).slice(0, 600)}`),
      ).toEqual([]);

    // The ledger in PostgreSQL sums to every balance.
    for (const c of customers) {
      const { value } = await balanceOf(c.id);
      await until(`the ledger of ${c.id}`, 30_000, async () => {
        const r = await pool
          .query<{ sum: string | null }>(
            `SELECT sum(delta)::text AS sum FROM ${schema}.balance_ledger
              WHERE tenant = 'acme' AND account_id = $1 AND balance_id = 'main'`,
            [c.id],
          )
          .catch(() => undefined);
        return r?.rows[0]?.sum === String(value) ? true : undefined;
      });
    }
  }, 400_000);
});
