/**
 * What a session is granted (issue 12, "Grants"), through the HTTP API on the real Redis, with a
 * CGRateS-style tariff folder written here and accounts provisioned through the API:
 * a `*disconnect` max cost limits every grant over the whole session, however rich the account;
 * postpaid accounts are granted down to their credit limit; a refused initiate opens no session;
 * several rating groups short of credit in one step share what the balances afford.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import type { Sessions } from '../../src/charging/sessions.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0);
let app: FastifyInstance;
let store: BalanceStore;
let sessions: Sessions;
let tariffDir: string;
const NET = { authorization: 'Bearer demo-network' };
const BILLING = { authorization: 'Bearer demo-billing' };

/**
 * After the CGRateS tutorial: calls to DST_CAPPED at 0.01 per second with a 0.12 `*disconnect` max
 * cost (the tutorial's call to 1003, cut after 12 s), and to DST_FEE_CAPPED with a 0.05 connect fee
 * under the same cap; mobiles at 0.05 connect + 0.15 per minute
 * per second; data at 0.01 per MiB counted per KiB.
 */
const TARIFF: Record<string, string> = {
  'Destinations.csv': '#Id,Prefix\nDST_CAPPED,+4420\nDST_FEE_CAPPED,+4421\nDST_MOBILE,+447\n',
  'Rates.csv':
    '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n' +
    'RT_1CNT_PER_SEC,0,0.01,1s,1s,0s\nRT_FEE,0.05,0.01,1s,1s,0s\nRT_MOBILE,0.05,0.15,60s,1s,0s\nRT_DATA,0,0.01,1048576,1024,0s\n',
  'DestinationRates.csv':
    '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n' +
    'DR_CAPPED,DST_CAPPED,RT_1CNT_PER_SEC,*up,4,0.12,*disconnect\n' +
    'DR_FEE_CAPPED,DST_FEE_CAPPED,RT_FEE,*up,4,0.12,*disconnect\n' +
    'DR_MOBILE,DST_MOBILE,RT_MOBILE,*up,4,0,\nDR_DATA,*any,RT_DATA,*up,4,0,\n',
  'RatingPlans.csv':
    '#Id,DestinationRatesId,TimingTag,Weight\nRP_CALL,DR_CAPPED,*any,10\nRP_CALL,DR_FEE_CAPPED,*any,10\nRP_CALL,DR_MOBILE,*any,10\n' +
    'RP_DATA,DR_DATA,*any,10\n',
  'RatingProfiles.csv':
    '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n' +
    'acme,call,*any,2026-01-01T00:00:00Z,RP_CALL,\nacme,data,*any,2026-01-01T00:00:00Z,RP_DATA,\n',
};

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'grants-tariff-'));
  for (const [file, text] of Object.entries(TARIFF)) await writeFile(join(tariffDir, file), text);
  ({ app, balances: store, sessions } = await testApp({ redis, prefix, tariffDir, now: () => clock }));
});
afterAll(async () => {
  await app.close();
  await rm(tariffDir, { recursive: true, force: true });
});

let accounts = 0;
let references = 0;
const provision = async (url: string, body: object) => {
  const r = await app.inject({
    method: 'POST',
    url,
    headers: BILLING,
    payload: { ...body, reference: `ref-${++references}` },
  });
  expect(r.statusCode, r.body).toBe(201);
};

/** An account with a money balance `main` of `money` (a decimal string), through the API. */
async function customer(money: string, account: object = { type: 'prepaid' }, balances: object[] = []) {
  const id = `g${++accounts}`;
  const msisdn = `4477008${String(accounts).padStart(5, '0')}`;
  await provision('/v1/accounts', {
    id,
    currency: 'GBP',
    subject: id,
    subscriptions: [{ type: 'msisdn', value: msisdn }],
    ...account,
  });
  for (const b of [{ id: 'main', unit: 'money', value: money }, ...balances])
    await provision(`/v1/accounts/${id}/balances`, b);
  const balance = async (b: string) =>
    (await store.getAccount('acme', id))!.balances.find((x) => x.id === b)!;
  return { id, msisdn, balance };
}

const at = (secondsLater: number) => new Date(clock + secondsLater * 1000).toISOString();
const call = (sid: string, phase: string, body: object) =>
  app.inject({
    method: 'POST',
    url: `/v1/sessions/${encodeURIComponent(sid)}/${phase}`,
    headers: NET,
    payload: body,
  });
const voiceInit = (msisdn: string, to: string, time: number) => ({
  requestNumber: 0,
  eventTime: at(0),
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: `tel:${to}` } },
  mscc: [{ ratingGroup: 100, requested: { time } }],
});
const update = (n: number, used: number, requested?: number) => ({
  requestNumber: n,
  eventTime: at(n * 10),
  mscc: [
    { ratingGroup: 100, used: [{ time: used }], ...(requested ? { requested: { time: requested } } : {}) },
  ],
});
const CAPPED = '+442079460000';
const MOBILE = '+447911123456';

describe('max cost *disconnect', () => {
  it('limits every grant to where the cost reaches the cap, however rich the account', async () => {
    const c = await customer('10');
    const sid = 'cap;1';
    const i = await call(sid, 'initiate', voiceInit(c.msisdn, CAPPED, 60));
    expect(i.json().mscc).toEqual([
      {
        ratingGroup: 100,
        resultCode: 2001,
        granted: { time: 12 }, // 0.12 at 0.01 per second
        validityTime: 300,
        finalUnitIndication: { finalUnitAction: 'TERMINATE' },
      },
    ]);
    expect((await c.balance('main')).held).toBe(120_000_000);
  });

  it('caps the whole session (used and granted), as CGRateS does, not each request', async () => {
    const c = await customer('10');
    const sid = 'cap;2';
    await call(sid, 'initiate', voiceInit(c.msisdn, CAPPED, 10));
    // 5 s used of the 10 granted: 0.05 spent, 0.07 left under the cap: 7 s more.
    const u1 = await call(sid, 'update', update(1, 5, 60));
    expect(u1.json().mscc[0]).toMatchObject({
      granted: { time: 7 },
      finalUnitIndication: { finalUnitAction: 'TERMINATE' },
    });
    // The cap is reached: nothing more is granted (the group is refused, the session goes on).
    const u2 = await call(sid, 'update', update(2, 7, 60));
    expect(u2.json()).toMatchObject({ resultCode: 2001, mscc: [{ ratingGroup: 100, resultCode: 4012 }] });
    expect(u2.json().mscc[0].granted).toBeUndefined();
    const t = await call(sid, 'terminate', { requestNumber: 3, eventTime: at(30), mscc: [] });
    expect(t.json().costInformation).toEqual({ amount: '0.12', currency: 'GBP' });
    expect(await c.balance('main')).toMatchObject({ value: 10_000_000_000 - 120_000_000, held: 0 });
  });

  it('counts the connect fee in the cost the cap limits', async () => {
    const c = await customer('10');
    const i = await call('cap;fee', 'initiate', voiceInit(c.msisdn, '+442179460000', 60));
    expect(i.json().mscc[0]).toMatchObject({ granted: { time: 7 } }); // 0.05 + 7 x 0.01 = 0.12
  });

  it('leaves uncapped destinations alone', async () => {
    const c = await customer('10');
    const i = await call('cap;3', 'initiate', voiceInit(c.msisdn, MOBILE, 600));
    expect(i.json().mscc[0]).toMatchObject({
      resultCode: 2001,
      granted: { time: 600 },
      timeQuotaThreshold: 120,
    });
  });
});

describe('postpaid final units', () => {
  it('grants a postpaid account down to its credit limit, as a prepaid account holding as much', async () => {
    // 1.00 affords 0.05 + 380 s at 0.0025 per second.
    const prepaid = await customer('1');
    const postpaid = await customer('0', { type: 'postpaid', creditLimit: '1' });
    for (const [sid, c] of [
      ['pp;1', prepaid],
      ['pp;2', postpaid],
    ] as const) {
      const r = await call(sid, 'initiate', voiceInit(c.msisdn, MOBILE, 600));
      expect(r.json(), sid).toMatchObject({
        resultCode: 2001,
        mscc: [
          { resultCode: 2001, granted: { time: 380 }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } },
        ],
      });
      expect((await c.balance('main')).held).toBe(1_000_000_000);
    }
  });

  it('counts what a postpaid account already owes against its limit', async () => {
    const c = await customer('0', { type: 'postpaid', creditLimit: '1' });
    await call('owes;1', 'initiate', voiceInit(c.msisdn, MOBILE, 100));
    await call('owes;1', 'terminate', {
      requestNumber: 1,
      eventTime: at(100),
      mscc: [update(1, 100).mscc[0]],
    });
    expect((await c.balance('main')).value).toBe(-300_000_000); // 0.05 + 100 s
    // 0.70 left of the limit: 0.05 + 260 s.
    const r = await call('owes;2', 'initiate', voiceInit(c.msisdn, MOBILE, 600));
    expect(r.json().mscc[0]).toMatchObject({ resultCode: 2001, granted: { time: 260 } });
  });
});

describe('a refused initiate', () => {
  it.each([
    ['4012: nothing to pay with', '0', MOBILE, 4012],
    ['5031: a destination the tariff does not price', '10', '+33612345678', 5031],
  ])('opens no session (%s)', async (_, money, to, code) => {
    const c = await customer(money);
    const sid = `refused;${code}`;
    const r = await call(sid, 'initiate', voiceInit(c.msisdn, to, 60));
    expect(r.json()).toMatchObject({ resultCode: code });
    expect(r.json()).not.toHaveProperty('sessionExpiresAt');
    expect(await sessions.get('acme', sid)).toBeNull();
    // Its answer is kept for a retry, and nothing else: an update finds no session.
    const again = await call(sid, 'initiate', voiceInit(c.msisdn, to, 60));
    expect(again.body).toBe(r.body);
    const u = await call(sid, 'update', update(1, 0, 60));
    expect(u.statusCode).toBe(404);
    expect(u.json()).toMatchObject({ cause: 'SESSION_NOT_FOUND' });
  });
});

describe('several rating groups short of credit in one step', () => {
  it('share what the balances afford: each sees what the ones before it take', async () => {
    // 0.01 pays 1 MiB of data for any group; a 0.001 promotion pays group 20 only (102 KiB).
    const c = await customer('0.01', { type: 'prepaid' }, [
      { id: 'promo', unit: 'money', value: '0.001', ratingGroups: [20] },
    ]);
    const r = await call('pgw;groups', 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32251@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: c.msisdn }],
      mscc: [
        { ratingGroup: 10, requested: { totalOctets: 10 * 1048576 } },
        { ratingGroup: 20, requested: { totalOctets: 10 * 1048576 } },
      ],
    });
    // Both are refused at first; group 20's final units are what group 10's leave it.
    expect(r.json()).toMatchObject({
      resultCode: 2001,
      mscc: [
        { ratingGroup: 10, resultCode: 2001, granted: { totalOctets: 1048576 } },
        { ratingGroup: 20, resultCode: 2001, granted: { totalOctets: 102 * 1024 } },
      ],
    });
    expect(await c.balance('main')).toMatchObject({ value: 10_000_000, held: 10_000_000 });
    expect((await c.balance('promo')).held).toBe(996_094); // 102 KiB at 0.01 per MiB, up to the nano
  });
});
