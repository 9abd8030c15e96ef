/**
 * A call that outlasts its reservation while a minutes bundle pays part of it (issue 12, one money
 * path): the usage beyond what the reservation holds is charged from the balances, bundle first,
 * in one answer (it used to ask for two prices in turn until the session gave up, BUSY).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0); // a Friday, peak
let app: FastifyInstance;
let store: BalanceStore;
const NET = { authorization: 'Bearer demo-network' };

beforeAll(async () => {
  ({ app, balances: store } = await testApp({ redis, prefix, now: () => clock }));
});
afterAll(() => app.close());

const at = (seconds: number) => new Date(clock + seconds * 1000).toISOString();
const call = (sid: string, phase: string, body: object) =>
  app.inject({
    method: 'POST',
    url: `/v1/sessions/${encodeURIComponent(sid)}/${phase}`,
    headers: NET,
    payload: body,
  });

describe('a call beyond its reservation, partly paid by a bundle', () => {
  it('is charged: the bundle first (its reserved minutes given back), money for the rest', async () => {
    await store.createAccount(
      {
        tenant: 'acme',
        id: 'mins',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'mins',
        subscriptions: [{ type: 'msisdn', value: '447700900555' }],
      },
      'create',
    );
    await store.addBalance('acme', 'mins', { id: 'main', unit: 'money', value: 1_000_000_000 }, 'main');
    await store.addBalance('acme', 'mins', { id: 'bundle', unit: 'voice', value: 30e9 }, 'bundle');
    const sid = 'tas1.example.net;1718000100;555';
    const init = await call(sid, 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900555' }],
      serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
      mscc: [{ ratingGroup: 100, requested: { time: 20 } }],
    });
    expect(init.json()).toMatchObject({ resultCode: 2001 });
    const view = async () => (await store.getAccount('acme', 'mins'))!.balances;
    const reserved = (await view()).find((b) => b.id === 'bundle')!.held;
    const end = await call(sid, 'terminate', {
      requestNumber: 1,
      eventTime: at(50),
      mscc: [{ ratingGroup: 100, used: [{ time: 50 }] }],
    });
    expect(end.statusCode).toBe(200);
    expect(end.json()).toMatchObject({ resultCode: 2001 });
    const after = await view();
    expect(reserved).toBeGreaterThan(0);
    expect(after.find((b) => b.id === 'bundle')).toMatchObject({ value: 0, held: 0 });
    const money = after.find((b) => b.id === 'main')!;
    expect(money.held).toBe(0);
    // 50 s cost 0.05 + 50 x 0.0025 = 0.175; the bundle paid 30 s of them, money the other 20: 0.07.
    expect(1_000_000_000 - money.value).toBe(70_000_000);
  });
});
