/**
 * Several engines on one store (issue 16): a session that moves between engines is charged exactly
 * what one engine charges, to the nano. Two apps, each with its own caches (sessions, subscribers),
 * on the same Redis and key prefix, through the HTTP API; a CGRateS-style tariff folder (per-second
 * rates rounded `*up` to 4 decimals, so terminates debit or refund the rounding) and nearly empty
 * accounts, where the rounding settlement is the last nano there is.
 *
 * Every step's plan depends on the session as stored (the reservations' holds included), never on
 * what one engine remembers: each case runs the same requests on one engine and across two, and
 * demands the same answers and the same money.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import type { Sessions } from '../../src/charging/sessions.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0);
/** How far the engines' clock has moved on past `clock` (the Tcc sweep test moves it). */
let later = 0;
let engines: FastifyInstance[] = [];
let sweepers: Sessions[] = [];
let store: BalanceStore;
let tariffDir: string;
const NET = { authorization: 'Bearer demo-network' };
const BILLING = { authorization: 'Bearer demo-billing' };

/**
 * After the CGRateS tutorial's RT_20CNT (per-second after a first increment) and RT_1CNT_PER_SEC:
 * DST_MOBILE 0.16 per minute per second, no connect fee (26 s = 0.0693333…, rounded up 0.0694);
 * DST_FIXED 0.2 connect + 0.1 per minute in whole minutes, then 0.05 per minute per second.
 */
const TARIFF: Record<string, string> = {
  'Destinations.csv': '#Id,Prefix\nDST_MOBILE,+447\nDST_FIXED,+4420\n',
  'Rates.csv':
    '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n' +
    'RT_16CNT,0,0.16,60s,1s,0s\nRT_10CNT,0.02,0.1,60s,60s,0s\nRT_10CNT,0,0.05,60s,1s,60s\n',
  'DestinationRates.csv':
    '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n' +
    'DR_MOBILE,DST_MOBILE,RT_16CNT,*up,4,0,\nDR_FIXED,DST_FIXED,RT_10CNT,*up,4,0,\n',
  'RatingPlans.csv':
    '#Id,DestinationRatesId,TimingTag,Weight\nRP_CALL,DR_MOBILE,*any,10\nRP_CALL,DR_FIXED,*any,10\n',
  'RatingProfiles.csv':
    '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n' +
    'acme,call,*any,2026-01-01T00:00:00Z,RP_CALL,\n',
};
const MOBILE = '+447911123456';
const FIXED = '+442079460000';

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'engines-tariff-'));
  for (const [file, text] of Object.entries(TARIFF)) await writeFile(join(tariffDir, file), text);
  const a = await testApp({ redis, prefix, tariffDir, now: () => clock + later });
  const b = await testApp({ redis, prefix, tariffDir, now: () => clock + later });
  engines = [a.app, b.app];
  sweepers = [a.sessions, b.sessions];
  store = a.balances;
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await rm(tariffDir, { recursive: true, force: true });
});

let accounts = 0;
let references = 0;
async function provision(url: string, body: object): Promise<void> {
  const r = await engines[0]!.inject({
    method: 'POST',
    url,
    headers: BILLING,
    payload: { ...body, reference: `ref-${++references}` },
  });
  expect(r.statusCode, r.body).toBe(201);
}

/** An account holding `money` (a decimal string) in its balance `main`, through the API. */
async function customer(money: string) {
  const id = `e${++accounts}`;
  const msisdn = `4477006${String(accounts).padStart(5, '0')}`;
  await provision('/v1/accounts', {
    id,
    type: 'prepaid',
    currency: 'GBP',
    subject: id,
    subscriptions: [{ type: 'msisdn', value: msisdn }],
  });
  await provision(`/v1/accounts/${id}/balances`, { id: 'main', unit: 'money', value: money });
  const main = async () => (await store.getAccount('acme', id))!.balances.find((b) => b.id === 'main')!;
  return { id, msisdn, main };
}

const at = (s: number) => new Date(clock + s * 1000).toISOString();

/** One request of a session: the engine it goes to and what it says. */
interface Request {
  engine: number;
  /** Sent to both engines at the same instant (a client retrying on the other engine): spread only. */
  both?: boolean;
  session: number;
  phase: 'initiate' | 'update' | 'terminate';
  body: object;
}

const initiate = (msisdn: string, to: string, time: number) => ({
  requestNumber: 0,
  eventTime: at(0),
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: `tel:${to}` } },
  mscc: [{ ratingGroup: 100, requested: { time } }],
});
const report = (n: number, used: number, requested?: number) => ({
  requestNumber: n,
  eventTime: at(n * 10),
  mscc: [
    { ratingGroup: 100, used: [{ time: used }], ...(requested ? { requested: { time: requested } } : {}) },
  ],
});

/**
 * Runs the requests on a new account holding `money`, each on the engine it names (`spread`) or
 * all on engine 0; returns the answers (bodies, without the session id) and the money left.
 */
async function run(money: string, requests: Request[], spread: boolean) {
  const c = await customer(money);
  const tag = `${c.id}`;
  const answers: unknown[] = [];
  for (const r of requests) {
    const body =
      r.phase === 'initiate' ? { ...r.body, subscriptionIds: [{ type: 'E164', data: c.msisdn }] } : r.body;
    const send = (engine: number) =>
      engines[engine]!.inject({
        method: 'POST',
        url: `/v1/sessions/${encodeURIComponent(`${tag};${r.session}`)}/${r.phase}`,
        headers: NET,
        payload: body,
      });
    const res = spread && r.both ? await sentToBoth(send) : await send(spread ? r.engine : 0);
    // A refused initiate opens no session: later requests of it are 404, on every engine alike.
    const { sessionId: _s, detail: _d, ...rest } = res.json() as { sessionId: string; detail?: string };
    answers.push({ status: res.statusCode, ...rest });
  }
  const main = await c.main();
  return { answers, value: main.value, held: main.held };
}

/**
 * One request sent to both engines at once: both answers are the same, byte for byte, and at most
 * one of them did the work (the other is a replay, or both were refused alike).
 */
async function sentToBoth(send: (engine: number) => Promise<LightMyRequestResponse>) {
  const [a, b] = await Promise.all([send(0), send(1)]);
  expect(b.body).toBe(a.body);
  expect(b.statusCode).toBe(a.statusCode);
  const fresh = [a, b].filter((r) => r.statusCode === 200 && r.headers['idempotent-replayed'] !== 'true');
  expect(fresh.length).toBeLessThanOrEqual(1);
  return a;
}

/** The same requests on one engine and moved between two: the same answers and money. */
async function sameAsOneEngine(money: string, requests: Request[]) {
  const one = await run(money, requests, false);
  const two = await run(money, requests, true);
  expect(two).toEqual(one);
  return one;
}

describe('a session moving between engines', () => {
  it('initiated on A, updated on B, terminated on A, on a nearly empty account: rounded once, as on one engine', async () => {
    // 0.0694 pays 26 s (0.0693333…) rounded up to 0.0694: the last 0.0000666… is the rounding.
    const requests: Request[] = [
      { engine: 0, session: 1, phase: 'initiate', body: initiate('', MOBILE, 60) },
      { engine: 1, session: 1, phase: 'update', body: report(1, 13, 60) },
      { engine: 0, session: 1, phase: 'terminate', body: report(2, 13) },
    ];
    const one = await sameAsOneEngine('0.0694', requests);
    expect(one.answers[2]).toMatchObject({
      status: 200,
      costInformation: { amount: '0.0694', currency: 'GBP' },
    });
    expect(one).toMatchObject({ value: 0, held: 0 });
  });

  it('refunds what chunks rounded to the nano took beyond the rounded total', async () => {
    // 3 x 10 s at 0.16 per minute: each chunk 0.026666667 (up to the nano), 0.08 in all.
    const requests: Request[] = [
      { engine: 0, session: 1, phase: 'initiate', body: initiate('', MOBILE, 10) },
      { engine: 1, session: 1, phase: 'update', body: report(1, 10, 10) },
      { engine: 0, session: 1, phase: 'update', body: report(2, 10, 10) },
      { engine: 1, session: 1, phase: 'terminate', body: report(3, 10) },
    ];
    const one = await sameAsOneEngine('0.080000001', requests);
    expect(one.answers[3]).toMatchObject({ costInformation: { amount: '0.08' } });
    expect(one).toMatchObject({ value: 1, held: 0 });
  });
});

describe('the rounding settlement', () => {
  it('is planned again, not dropped, when a report beyond the grant was priced in the same step', async () => {
    // 20 s granted (0.0533…), 26 s reported at terminate: debited directly, then rounded to 0.0694.
    const requests: Request[] = [
      { engine: 0, session: 1, phase: 'initiate', body: initiate('', MOBILE, 20) },
      { engine: 1, session: 1, phase: 'terminate', body: report(1, 26) },
    ];
    const one = await sameAsOneEngine('0.0694', requests);
    expect(one.answers[1]).toMatchObject({ costInformation: { amount: '0.0694' } });
    expect(one).toMatchObject({ value: 0, held: 0 });
  });
});

/** One random request: which session, which engine, what it reports and asks, whether it ends. */
interface Step {
  session: number;
  engine: number;
  used: number;
  requested: number | undefined;
  end: boolean;
  both: boolean;
}

/** Random sessions (two at once on one account) whose requests go to random engines. */
const requestsArb = fc
  .array(
    fc.record<Step>({
      session: fc.integer({ min: 1, max: 2 }),
      engine: fc.integer({ min: 0, max: 1 }),
      used: fc.integer({ min: 0, max: 90 }),
      requested: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
      end: fc.boolean(),
      both: fc.boolean(),
    }),
    { minLength: 1, maxLength: 10 },
  )
  .chain((steps) =>
    fc.record({
      to: fc.constantFrom(MOBILE, FIXED),
      firstQuota: fc.integer({ min: 1, max: 120 }),
      money: fc.constantFrom('0.0694', '0.1', '0.25', '0.080000001', '0.3333'),
      steps: fc.constant(steps),
    }),
  );

function requestsOf(p: { to: string; firstQuota: number; steps: Step[] }): Request[] {
  const out: Request[] = [];
  const next = new Map<number, number>(); // request number per open session; absent = not opened
  const closed = new Set<number>();
  for (const s of p.steps) {
    if (closed.has(s.session)) continue;
    const n = next.get(s.session);
    if (n === undefined) {
      out.push({
        engine: s.engine,
        both: s.both,
        session: s.session,
        phase: 'initiate',
        body: initiate('', p.to, p.firstQuota),
      });
      next.set(s.session, 1);
      continue;
    }
    const terminate = s.end;
    out.push({
      engine: s.engine,
      both: s.both,
      session: s.session,
      phase: terminate ? 'terminate' : 'update',
      body: report(n, s.used, terminate ? undefined : s.requested),
    });
    next.set(s.session, n + 1);
    if (terminate) closed.add(s.session);
  }
  for (const [session, n] of next) {
    if (!closed.has(session)) out.push({ engine: n % 2, session, phase: 'terminate', body: report(n, 5) });
  }
  return out;
}

describe('random interleavings across two engines', () => {
  it('answer and charge exactly what one engine does, also with requests sent to both at once', async () => {
    await fc.assert(
      fc.asyncProperty(requestsArb, async (p) => {
        const one = await sameAsOneEngine(p.money, requestsOf(p));
        expect(one.held).toBe(0);
        expect(one.value).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});

describe('the Tcc sweep', () => {
  it('closes a session another engine moved on, rounded once, as one engine does', async () => {
    const after: unknown[] = [];
    for (const spread of [false, true]) {
      const c = await customer('0.0694');
      const sid = `${c.id};silent`;
      const send = (engine: number, phase: string, body: object) =>
        engines[spread ? engine : 0]!.inject({
          method: 'POST',
          url: `/v1/sessions/${encodeURIComponent(sid)}/${phase}`,
          headers: NET,
          payload: body,
        });
      const init = { ...initiate('', MOBILE, 60), subscriptionIds: [{ type: 'E164', data: c.msisdn }] };
      expect((await send(0, 'initiate', init)).statusCode).toBe(200);
      // 13 s used (0.034666667); what is left affords 13 s more, granted as the final units.
      expect((await send(1, 'update', report(1, 13, 60))).json()).toMatchObject({
        mscc: [{ resultCode: 2001, granted: { time: 13 } }],
      });
      // The network goes silent; engine A's sweep closes the session B moved on last.
      later += 601_000;
      expect(await sweepers[0]!.sweep()).toBe(1);
      const m = await c.main();
      after.push({ value: m.value, held: m.held });
    }
    // 13 s rounded once: 0.0347 of the 0.0694.
    expect(after).toEqual([
      { value: 34_700_000, held: 0 },
      { value: 34_700_000, held: 0 },
    ]);
  });
});
