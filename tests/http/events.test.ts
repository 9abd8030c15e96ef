/**
 * One-shot charging events over HTTP (network role), on the real Redis: Diameter result codes in a
 * 200 body, exact money, replays answered byte for byte without moving money, conflicts refused.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let store: BalanceStore;
const NET = { authorization: 'Bearer demo-network' };

beforeAll(async () => {
  ({ app, balances: store } = await testApp({ redis, prefix }));
  await store.createAccount(
    {
      tenant: 'acme',
      id: 'alice',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'alice',
      subscriptions: [{ type: 'msisdn', value: '447700900001' }],
    },
    'c',
  );
  await store.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 100_000_000 }, 'b'); // 0.10
});
afterAll(() => app.close());

const sms = (over: Record<string, unknown> = {}) => ({
  requestedAction: 'DIRECT_DEBITING',
  eventTime: '2026-11-20T10:10:00Z',
  serviceContextId: '32274@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: '447700900001' }],
  serviceInformation: { sms: { recipients: ['447911123456'] } },
  mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
  ...over,
});
const send = (id: string, payload: unknown) =>
  app.inject({
    method: 'POST',
    url: `/v1/events/${encodeURIComponent(id)}`,
    headers: NET,
    payload: payload as object,
  });
const money = async () =>
  (await store.getAccount('acme', 'alice'))!.balances.find((b) => b.id === 'main')!.value;

describe('charging events', () => {
  it('debits an SMS once, and a retry gets the first answer byte for byte', async () => {
    const first = await send('smsc1;1718000200;9', sms());
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      eventId: 'smsc1;1718000200;9',
      requestedAction: 'DIRECT_DEBITING',
      resultCode: 2001,
      resultName: 'DIAMETER_SUCCESS',
      mscc: [{ ratingGroup: 300, resultCode: 2001, granted: { serviceSpecificUnits: 1 } }],
      costInformation: { amount: '0.04', currency: 'GBP' },
    });
    const retry = await send('smsc1;1718000200;9', { ...sms(), retransmission: true });
    expect(retry.body).toBe(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await money()).toBe(60_000_000);
  });

  it('refuses the same event id with a different body, changing nothing', async () => {
    const r = await send(
      'smsc1;1718000200;9',
      sms({ mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 2 } }] }),
    );
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ cause: 'CONFLICT', diameterResultCode: 5012 });
    expect(await money()).toBe(60_000_000);
  });

  it('answers 4012 when the balance cannot pay, and debits nothing', async () => {
    expect((await send('e2', sms())).json().resultCode).toBe(2001);
    const r = await send('e3', sms({ serviceInformation: { sms: { recipients: ['33612345678'] } } })); // 0.10 abroad, 0.02 left
    expect(r.json()).toMatchObject({
      resultCode: 4012,
      resultName: 'DIAMETER_CREDIT_LIMIT_REACHED',
      mscc: [{ ratingGroup: 300, resultCode: 4012 }],
    });
    expect(await money()).toBe(20_000_000);
  });

  it('prices and checks without touching the balance', async () => {
    const price = await send(
      'e4',
      sms({ requestedAction: 'PRICE_ENQUIRY', serviceInformation: { sms: { recipients: ['33612345678'] } } }),
    );
    expect(price.json()).toMatchObject({
      resultCode: 2001,
      costInformation: { amount: '0.1', currency: 'GBP' },
    });
    // 0.02 left: not enough for a 0.04 SMS; after a 0.03 top-up, enough.
    expect((await send('e5', sms({ requestedAction: 'CHECK_BALANCE' }))).json().checkBalanceResult).toBe(
      'NO_CREDIT',
    );
    await store.credit('acme', 'alice', { opId: 'topup-3p', balanceId: 'main', amount: 30_000_000 });
    expect((await send('e6', sms({ requestedAction: 'CHECK_BALANCE' }))).json().checkBalanceResult).toBe(
      'ENOUGH_CREDIT',
    );
    expect(await money()).toBe(50_000_000);
  });

  it('refunds once', async () => {
    const r = await send('refund-1', sms({ requestedAction: 'REFUND_ACCOUNT' }));
    await send('refund-1', sms({ requestedAction: 'REFUND_ACCOUNT' }));
    expect(r.json()).toMatchObject({ resultCode: 2001, costInformation: { amount: '0.04' } });
    expect(await money()).toBe(90_000_000);
  });

  it('prices a voice event from the IMS called party, exactly', async () => {
    const r = await send('tas1;77', {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T10:15:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900001' }],
      serviceInformation: { ims: { calledParty: 'tel:+442071234567' } },
      mscc: [{ ratingGroup: 100, requested: { time: 7 } }],
    });
    // 5p connect fee + the first minute charged whole at 10p: 0.15, more than the 0.09 left.
    expect(r.json().resultCode).toBe(4012);
    const cheap = await send('tas1;78', {
      requestedAction: 'PRICE_ENQUIRY',
      eventTime: '2026-11-20T10:15:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900001' }],
      serviceInformation: { ims: { calledParty: 'tel:+442071234567' } },
      mscc: [{ ratingGroup: 100, requested: { time: 7 } }],
    });
    expect(cheap.json().costInformation.amount).toBe('0.15');
  });

  it.each([
    ['an unknown subscriber', sms({ subscriptionIds: [{ type: 'E164', data: '449999999999' }] }), 5030],
    ['an unknown service context', sms({ serviceContextId: '99999@3gpp.org' }), 5031],
    [
      'a price enquiry for a number only *any prices',
      sms({ requestedAction: 'PRICE_ENQUIRY', serviceInformation: { sms: { recipients: ['999'] } } }),
      2001,
    ],
  ])('answers %s with a 200 and its result code', async (_name, body, code) => {
    const before = await money();
    const r = await send(`x-${code}-${Math.random()}`, body);
    expect(r.statusCode).toBe(200);
    expect(r.json().resultCode).toBe(code);
    if (code !== 2001) expect(await money()).toBe(before);
  });

  it('answers a suspended account with 4010', async () => {
    await store.updateAccount('acme', 'alice', { status: 'suspended' }, 'suspend');
    expect((await send('e-susp', sms())).json()).toMatchObject({
      resultCode: 4010,
      resultName: 'DIAMETER_END_USER_SERVICE_DENIED',
    });
    await store.updateAccount('acme', 'alice', { status: 'active' }, 'resume');
  });

  it('refuses malformed input with a problem and changes nothing', async () => {
    const before = await money();
    for (const bad of [
      sms({ mscc: [{ ratingGroup: -1 }] }),
      sms({ mscc: [] }),
      sms({ requestedAction: 'STEAL' }),
      sms({ subscriptionIds: [] }),
      sms({ extra: true }),
    ]) {
      const r = await send('bad', bad);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/events/x',
          headers: { authorization: 'Bearer demo-billing' },
          payload: sms(),
        })
      ).statusCode,
    ).toBe(403);
    expect(await money()).toBe(before);
  });
});
