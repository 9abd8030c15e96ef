/**
 * Which balance pays, through the HTTP API with CGRateS-style accounts (docs/BALANCES.md): a
 * national bundle pays for a call whose winning rate destination is narrower (UK_MOBILE inside UK);
 * `!ID` exclusions; a blocker stops the chain; `*zero1m` minutes are consumed in whole minutes;
 * the grant of a session follows the same order.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0); // a Friday, peak: UK_MOBILE 15p/min
let app: FastifyInstance;
let dir: string;
const BILLING = { authorization: 'Bearer demo-billing' };
const NET = { authorization: 'Bearer demo-network' };
let n = 0;

/** The sample tariff plus the bundle destinations no rate uses: all of the UK, and Vodafone UK mobiles. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paying-'));
  await cp('tariffs/sample', dir, { recursive: true });
  const file = join(dir, 'tariff.json');
  const plan = JSON.parse(await readFile(file, 'utf8')) as { destinations: object[] };
  plan.destinations.push({ id: 'UK', prefixes: ['+44'] }, { id: 'UK_MOBILE_VF', prefixes: ['+447700'] });
  await writeFile(file, JSON.stringify(plan));
  ({ app } = await testApp({ redis, prefix, tariffDir: dir, now: () => clock }));
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (url: string, payload: object, headers = BILLING) =>
  app.inject({ method: 'POST', url, headers, payload });

/** An account with the given balances, provisioned through the API (voice values are seconds). */
async function customer(balances: object[]) {
  const id = `p${++n}`;
  const msisdn = `4477001${String(n).padStart(5, '0')}`;
  const made = await post('/v1/accounts', {
    id,
    type: 'prepaid',
    currency: 'GBP',
    subject: id,
    subscriptions: [{ type: 'msisdn', value: msisdn }],
    reference: `${id}-open`,
  });
  expect(made.statusCode).toBe(201);
  for (const [i, b] of balances.entries()) {
    const r = await post(`/v1/accounts/${id}/balances`, { ...b, reference: `${id}-b${i}` });
    expect(r.statusCode, r.body).toBe(201);
  }
  const values = async () => {
    const v = await app.inject({ method: 'GET', url: `/v1/accounts/${id}`, headers: BILLING });
    return Object.fromEntries(
      (v.json() as { balances: { id: string; value: string | number }[] }).balances.map((b) => [
        b.id,
        b.value,
      ]),
    );
  };
  return { id, msisdn, values };
}

/** A voice call of `seconds` to `called`, charged at once (an IEC direct debit). */
const callOf = (msisdn: string, called: string, seconds: number) =>
  post(
    `/v1/events/${encodeURIComponent(`tas1;${++n}`)}`,
    {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: new Date(clock).toISOString(),
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: msisdn }],
      serviceInformation: { ims: { calledParty: `tel:${called}` } },
      mscc: [{ ratingGroup: 100, requested: { time: seconds } }],
    },
    NET,
  );

const MONEY = { id: 'main', unit: 'money', value: '5' };

describe('destination-bound balances (CGRateS: any destination holding a prefix of the number)', () => {
  it('a national bundle pays for a call whose rate destination is narrower (UK_MOBILE)', async () => {
    const c = await customer([MONEY, { id: 'uk-mins', unit: 'voice', value: 600, destinations: ['UK'] }]);
    const r = await callOf(c.msisdn, '+447911123456', 90);
    expect(r.json()).toMatchObject({ resultCode: 2001 });
    expect(await c.values()).toEqual({ main: '5', 'uk-mins': 510 });
  });

  it('an excluded destination (!UK_MOBILE_VF) keeps the bundle out: money pays', async () => {
    const c = await customer([
      MONEY,
      { id: 'uk-mins', unit: 'voice', value: 600, destinations: ['UK', '!UK_MOBILE_VF'] },
    ]);
    await callOf(c.msisdn, '+447700900123', 60);
    expect((await c.values())['uk-mins']).toBe(600);
    await callOf(c.msisdn, '+447911123456', 60);
    expect((await c.values())['uk-mins']).toBe(540);
  });

  it('the more specific bundle pays first, whatever the weights', async () => {
    const c = await customer([
      MONEY,
      { id: 'uk', unit: 'voice', value: 600, weight: 50, destinations: ['UK'] },
      { id: 'vf', unit: 'voice', value: 600, weight: 0, destinations: ['UK_MOBILE_VF'] },
    ]);
    await callOf(c.msisdn, '+447700900123', 60);
    expect(await c.values()).toMatchObject({ uk: 600, vf: 540 });
  });
});

describe('blockers', () => {
  it('are accepted by the balance API and shown on the account', async () => {
    const c = await customer([{ ...MONEY, blocker: true }]);
    const v = await app.inject({ method: 'GET', url: `/v1/accounts/${c.id}`, headers: BILLING });
    expect(v.json()).toMatchObject({ balances: [{ id: 'main', blocker: true, ratingSubject: '' }] });
  });

  it('a PATCH makes a balance a blocker, and keeps it one through other changes', async () => {
    const c = await customer([MONEY, { id: 'uk-mins', unit: 'voice', value: 30, destinations: ['UK'] }]);
    const patch = (body: object, reference: string) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${c.id}/balances/uk-mins`,
        headers: BILLING,
        payload: { ...body, reference },
      });
    expect((await patch({ blocker: true }, `${c.id}-blk`)).statusCode).toBe(200);
    expect((await patch({ weight: 5 }, `${c.id}-w`)).statusCode).toBe(200);
    expect((await callOf(c.msisdn, '+447911123456', 60)).json()).toMatchObject({ resultCode: 4012 });
    expect(await c.values()).toEqual({ main: '5', 'uk-mins': 30 });
  });

  it('an empty blocker that matches authorises nothing: money does not pay after it', async () => {
    const c = await customer([
      MONEY,
      { id: 'uk-mins', unit: 'voice', value: 0, destinations: ['UK'], blocker: true },
    ]);
    const r = await callOf(c.msisdn, '+447911123456', 60);
    expect(r.json()).toMatchObject({ resultCode: 4012 });
    expect(await c.values()).toEqual({ main: '5', 'uk-mins': 0 });
  });

  it('a blocker that cannot pay all stops the chain; one that does not match is no obstacle', async () => {
    const c = await customer([
      MONEY,
      { id: 'uk-mins', unit: 'voice', value: 30, destinations: ['UK'], blocker: true },
    ]);
    expect((await callOf(c.msisdn, '+447911123456', 60)).json()).toMatchObject({ resultCode: 4012 });
    expect(await c.values()).toEqual({ main: '5', 'uk-mins': 30 });
    expect((await callOf(c.msisdn, '+33612345678', 60)).json()).toMatchObject({ resultCode: 2001 });
    expect((await c.values())['uk-mins']).toBe(30);
  });
});

describe('rating subject *zero1m', () => {
  it('makes the bundle free and consumed in whole minutes', async () => {
    const c = await customer([
      MONEY,
      { id: 'mins', unit: 'voice', value: 600, destinations: ['UK'], ratingSubject: '*zero1m' },
    ]);
    await callOf(c.msisdn, '+447911123456', 61);
    expect(await c.values()).toEqual({ main: '5', mins: 480 });
  });

  it('pays only whole minutes it holds; the rest falls to money', async () => {
    const c = await customer([MONEY, { id: 'mins', unit: 'voice', value: 90, ratingSubject: '*zero1m' }]);
    await callOf(c.msisdn, '+447911123456', 90);
    const v = await c.values();
    expect(v.mins).toBe(30);
    expect(Number(v.main)).toBeLessThan(5);
  });

  it('is refused in another form (400 INVALID_REQUEST), changing nothing', async () => {
    const c = await customer([MONEY]);
    const r = await post(`/v1/accounts/${c.id}/balances`, {
      id: 'x',
      unit: 'voice',
      value: 60,
      ratingSubject: 'RP_SOMETHING',
      reference: 'bad-subject',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ cause: 'INVALID_REQUEST' });
    expect(await c.values()).toEqual({ main: '5' });
  });
});

describe('a session grant follows the same rule (affordableUsage)', () => {
  it('a national blocker bundle with 30 s grants 30 s of a 60 s request, money untouched', async () => {
    const c = await customer([
      MONEY,
      { id: 'uk-mins', unit: 'voice', value: 30, destinations: ['UK'], blocker: true },
    ]);
    const r = await post(
      `/v1/sessions/${encodeURIComponent(`tas1;s${++n}`)}/initiate`,
      {
        requestNumber: 0,
        eventTime: new Date(clock).toISOString(),
        serviceContextId: '32260@3gpp.org',
        subscriptionIds: [{ type: 'E164', data: c.msisdn }],
        serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
        mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
      },
      NET,
    );
    expect(r.json()).toMatchObject({ resultCode: 2001, mscc: [{ granted: { time: 30 } }] });
    const v = await app.inject({ method: 'GET', url: `/v1/accounts/${c.id}`, headers: BILLING });
    expect(v.json()).toMatchObject({
      balances: [
        { id: 'main', reserved: '0' },
        { id: 'uk-mins', reserved: 30 },
      ],
    });
  });
});

describe('a session on a *zero1m bundle', () => {
  it('61 s used take two whole minutes from the bundle and nothing from money', async () => {
    const c = await customer([
      MONEY,
      { id: 'mins', unit: 'voice', value: 600, destinations: ['UK'], ratingSubject: '*zero1m' },
    ]);
    const sid = encodeURIComponent(`tas1;z${++n}`);
    const base = {
      eventTime: new Date(clock).toISOString(),
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: c.msisdn }],
      serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
    };
    const i = await post(
      `/v1/sessions/${sid}/initiate`,
      { ...base, requestNumber: 0, mscc: [{ ratingGroup: 100, requested: { time: 60 } }] },
      NET,
    );
    expect(i.json()).toMatchObject({ resultCode: 2001, mscc: [{ granted: { time: 60 } }] });
    const t = await post(
      `/v1/sessions/${sid}/terminate`,
      {
        ...base,
        requestNumber: 1,
        eventTime: new Date(clock + 61_000).toISOString(),
        mscc: [{ ratingGroup: 100, used: [{ time: 61, reportingReason: 'FINAL' }] }],
      },
      NET,
    );
    expect(t.json()).toMatchObject({ resultCode: 2001 });
    expect(await c.values()).toEqual({ main: '5', mins: 480 });
  });
});
