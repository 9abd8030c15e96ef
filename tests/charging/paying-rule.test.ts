/**
 * A balance check (CCR-Event CHECK_BALANCE, issue 12 §2) answers by the one paying rule, the one a
 * debit follows: eligibility, the paying order, destinations matched by prefix (`!ID` excludes),
 * blockers that stop the chain, `*zero` bundles consumed in whole steps, generic balances after the
 * event's own type, a postpaid credit line. Through the HTTP API on the real Redis, with a
 * CGRateS-style tariff folder: each case is checked, then debited, and the two must agree; random
 * accounts (fast-check) demand ENOUGH_CREDIT exactly when the debit goes through. A session
 * reserves generic balances after its voice bundle and settles from them. A rating subject
 * naming another profile is refused by the balance API (not implemented: docs/BALANCES.md).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0);
let app: FastifyInstance;
let store: BalanceStore;
let tariffDir: string;
const NET = { authorization: 'Bearer demo-network' };
const S = 1_000_000_000;

/** UK numbers at 0.06 per minute per second, UK mobiles rated by their own destination. */
const TARIFF: Record<string, string> = {
  'Destinations.csv': '#Id,Prefix\nDST_UK,+44\nDST_UK_MOBILE,+447\nDST_FR,+33\n',
  'Rates.csv': '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_6CNT,0,0.06,60s,1s,0s\n',
  'DestinationRates.csv':
    '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n' +
    'DR_UK,DST_UK,RT_6CNT,*up,4,0,\nDR_UK_MOBILE,DST_UK_MOBILE,RT_6CNT,*up,4,0,\nDR_FR,DST_FR,RT_6CNT,*up,4,0,\n',
  'RatingPlans.csv':
    '#Id,DestinationRatesId,TimingTag,Weight\nRP_CALL,DR_UK,*any,10\nRP_CALL,DR_UK_MOBILE,*any,10\nRP_CALL,DR_FR,*any,10\n',
  'RatingProfiles.csv':
    '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n' +
    'acme,call,*any,2026-01-01T00:00:00Z,RP_CALL,\n',
};
const MOBILE = '+447911123456';
const FIXED = '+442079460000';
const FRANCE = '+33123456789';

beforeAll(async () => {
  tariffDir = await mkdtemp(join(tmpdir(), 'check-balance-tariff-'));
  for (const [file, text] of Object.entries(TARIFF)) await writeFile(join(tariffDir, file), text);
  ({ app, balances: store } = await testApp({ redis, prefix, tariffDir, now: () => clock }));
});
afterAll(async () => {
  await app.close();
  await rm(tariffDir, { recursive: true, force: true });
});

interface BalanceSpec {
  unit: 'money' | 'voice' | 'generic';
  /** Money in nano; voice and generic in seconds' worth of nanoseconds. */
  value: number;
  weight?: number;
  destinations?: string[];
  blocker?: boolean;
  ratingSubject?: string;
}

let accounts = 0;
let events = 0;

/** An account with these balances (b0, b1 …); postpaid when `creditLimitNano` is set. */
async function customer(balances: BalanceSpec[], creditLimitNano?: number) {
  const id = `k${++accounts}`;
  const msisdn = `4477005${String(accounts).padStart(5, '0')}`;
  await store.createAccount(
    {
      tenant: 'acme',
      id,
      type: creditLimitNano === undefined ? 'prepaid' : 'postpaid',
      ...(creditLimitNano === undefined ? {} : { creditLimitNano }),
      currency: 'GBP',
      subject: id,
      subscriptions: [{ type: 'msisdn', value: msisdn }],
    },
    `create-${id}`,
  );
  for (const [i, b] of balances.entries()) {
    const r = await store.addBalance(
      'acme',
      id,
      {
        id: `b${i}`,
        unit: b.unit,
        value: b.unit === 'money' ? b.value : b.value * S,
        weight: b.weight ?? 0,
        destinations: b.destinations ?? [],
        blocker: b.blocker ?? false,
        ratingSubject: b.ratingSubject ?? '',
      },
      `${id}-b${i}`,
    );
    expect(r.code).toBe('OK');
  }
  return { id, msisdn };
}

const event = (msisdn: string, action: string, to: string, seconds: number) => ({
  requestedAction: action,
  eventTime: new Date(clock).toISOString(),
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: `tel:${to}` } },
  mscc: [{ ratingGroup: 100, requested: { time: seconds } }],
});
const send = async (payload: object) => {
  const r = await app.inject({ method: 'POST', url: `/v1/events/ev-${++events}`, headers: NET, payload });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as { resultCode: number; checkBalanceResult?: string };
};

/** The check's answer, and whether a debit of the same call then goes through (they must agree). */
async function checkThenDebit(msisdn: string, to: string, seconds: number) {
  const check = (await send(event(msisdn, 'CHECK_BALANCE', to, seconds))).checkBalanceResult;
  const debit = (await send(event(msisdn, 'DIRECT_DEBITING', to, seconds))).resultCode;
  expect(debit === 2001, `check ${check}, debit ${debit}`).toBe(check === 'ENOUGH_CREDIT');
  return check;
}

describe('CHECK_BALANCE follows the paying rule', () => {
  it('a blocker that cannot pay stops the chain, however much money follows it', async () => {
    const c = await customer([
      { unit: 'money', value: 10 * S },
      { unit: 'money', value: 10_000_000, weight: 20, blocker: true }, // 0.01 of a 0.06 call
    ]);
    expect(await checkThenDebit(c.msisdn, MOBILE, 60)).toBe('NO_CREDIT');
  });

  it('an empty blocker matching the call authorises nothing; one that does not match is no obstacle', async () => {
    const c = await customer([
      { unit: 'money', value: 10 * S },
      { unit: 'voice', value: 0, destinations: ['DST_FR'], blocker: true },
    ]);
    expect(await checkThenDebit(c.msisdn, FRANCE, 60)).toBe('NO_CREDIT');
    expect(await checkThenDebit(c.msisdn, MOBILE, 60)).toBe('ENOUGH_CREDIT');
  });

  it('a bundle for a national destination pays a mobile call rated by a narrower one; !ID excludes', async () => {
    const national = await customer([{ unit: 'voice', value: 120, destinations: ['DST_UK'] }]);
    expect(await checkThenDebit(national.msisdn, MOBILE, 60)).toBe('ENOUGH_CREDIT');
    const fixedOnly = await customer([
      { unit: 'voice', value: 120, destinations: ['DST_UK', '!DST_UK_MOBILE'] },
    ]);
    expect(await checkThenDebit(fixedOnly.msisdn, MOBILE, 60)).toBe('NO_CREDIT');
    expect(await checkThenDebit(fixedOnly.msisdn, FIXED, 60)).toBe('ENOUGH_CREDIT');
  });

  it('a *zero1m bundle covers whole minutes only: 30 s left of it pay nothing of a 60 s call', async () => {
    // The balances' sum (30 s + 0.03 for the other 30 s) would say enough; the rule says 0.06 is due.
    const c = await customer([
      { unit: 'voice', value: 30, ratingSubject: '*zero1m' },
      { unit: 'money', value: 30_000_000 },
    ]);
    expect(await checkThenDebit(c.msisdn, MOBILE, 60)).toBe('NO_CREDIT');
  });

  it('generic balances pay after the event’s own unit balances, before money', async () => {
    const c = await customer([
      { unit: 'voice', value: 20 },
      { unit: 'generic', value: 40 },
    ]);
    expect(await checkThenDebit(c.msisdn, MOBILE, 60)).toBe('ENOUGH_CREDIT');
    const b = (await store.getAccount('acme', c.id))!.balances;
    expect(b.map((x) => [x.id, x.value])).toEqual([
      ['b0', 0],
      ['b1', 0],
    ]);
  });

  it('a postpaid account counts its credit line', async () => {
    const c = await customer([{ unit: 'money', value: 0 }], 60_000_000);
    expect(await checkThenDebit(c.msisdn, MOBILE, 60)).toBe('ENOUGH_CREDIT');
    expect(await checkThenDebit(c.msisdn, MOBILE, 1)).toBe('NO_CREDIT');
  });
});

describe('generic balances in a session', () => {
  it('are reserved after the voice bundle and before money, and settled from the reservation', async () => {
    const c = await customer([
      { unit: 'voice', value: 20 },
      { unit: 'generic', value: 40 },
      { unit: 'money', value: S },
    ]);
    const sid = `generic;${c.id}`;
    const call = async (phase: string, body: object) => {
      const r = await app.inject({
        method: 'POST',
        url: `/v1/sessions/${encodeURIComponent(sid)}/${phase}`,
        headers: NET,
        payload: body,
      });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { resultCode: number; costInformation?: { amount: string } };
    };
    const balances = async () =>
      (await store.getAccount('acme', c.id))!.balances.map((b) => [b.id, b.value, b.held]);
    const init = { ...event(c.msisdn, '', MOBILE, 60), requestNumber: 0 } as Record<string, unknown>;
    delete init.requestedAction;
    expect((await call('initiate', init)).resultCode).toBe(2001);
    expect(await balances()).toEqual([
      ['b0', 20 * S, 20 * S],
      ['b1', 40 * S, 40 * S],
      ['b2', S, 0],
    ]);
    const used = (n: number, seconds: number, more: boolean) => ({
      requestNumber: n,
      eventTime: new Date(clock + n * 60_000).toISOString(),
      mscc: [{ ratingGroup: 100, used: [{ time: seconds }], ...(more ? { requested: { time: 60 } } : {}) }],
    });
    expect((await call('update', used(1, 60, true))).resultCode).toBe(2001);
    const t = await call('terminate', used(2, 30, false));
    // The bundles paid the first minute; 30 s more at 0.06 per minute from money.
    expect(t.costInformation).toMatchObject({ amount: '0.03' });
    expect(await balances()).toEqual([
      ['b0', 0, 0],
      ['b1', 0, 0],
      ['b2', S - 30_000_000, 0],
    ]);
  });
});

describe('a balance rating subject naming another profile', () => {
  it('is refused by the balance API with the field named, and changes nothing (docs/BALANCES.md says why)', async () => {
    const c = await customer([{ unit: 'money', value: S }]);
    const r = await app.inject({
      method: 'POST',
      url: `/v1/accounts/${c.id}/balances`,
      headers: { authorization: 'Bearer demo-billing' },
      payload: { id: 'premium', unit: 'voice', value: '60', ratingSubject: 'RP_PREMIUM', reference: 'rs-1' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({
      cause: 'INVALID_REQUEST',
      invalidParams: [{ param: '/ratingSubject' }],
    });
    expect((await store.getAccount('acme', c.id))!.balances.map((b) => b.id)).toEqual(['b0']);
  });
});

const balanceArb = fc.record<BalanceSpec>({
  unit: fc.constantFrom('money' as const, 'voice' as const, 'generic' as const),
  value: fc.integer({ min: 0, max: 90 }),
  weight: fc.constantFrom(0, 10, 20),
  destinations: fc.subarray(['DST_UK', 'DST_UK_MOBILE', 'DST_FR', '!DST_UK_MOBILE', '!DST_FR'], {
    maxLength: 2,
  }),
  blocker: fc.boolean(),
  ratingSubject: fc.constantFrom('', '*zero1m', '*zero1s'),
});

describe('on random accounts', () => {
  it('ENOUGH_CREDIT exactly when the debit of the same call goes through', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(balanceArb, { minLength: 1, maxLength: 5 }),
        fc.option(fc.constantFrom(0, 30_000_000, 100_000_000), { nil: undefined }),
        fc.constantFrom(MOBILE, FIXED, FRANCE),
        fc.integer({ min: 1, max: 150 }),
        async (balances, creditLimitNano, to, seconds) => {
          // Money balances hold 0 to 0.09 (value in nano x 1e6); *zero subjects only on unit balances.
          const specs = balances.map((b) =>
            b.unit === 'money' ? { ...b, value: b.value * 1_000_000, ratingSubject: '' } : b,
          );
          const c = await customer(specs, creditLimitNano);
          await checkThenDebit(c.msisdn, to, seconds);
        },
      ),
      { numRuns: 60 },
    );
  }, 180_000);
});
