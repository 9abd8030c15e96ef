/**
 * Every charged event and every closed session leaves a rated record with its breakdown in
 * PostgreSQL, and support staff can read the whole trail; a customer reads only their own usage.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let store: BalanceStore;
const NET = { authorization: 'Bearer demo-network' };
const BILLING = { authorization: 'Bearer demo-billing' };

beforeAll(async () => {
  await ensureRecordsSchema(pool, schema);
  await ensureLedgerSchema(pool, schema);
  ({ app, balances: store } = await testApp({ redis, prefix, history: { pool, schema } }));
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
  await store.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 1_000_000_000 }, 'b');
});
afterAll(() => app.close());

const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix });

describe('rated records and trails', () => {
  it('keeps a record and a trail of a session, and of an event, once each', async () => {
    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, headers: NET, payload });
    await post('/v1/sessions/s1/initiate', {
      requestNumber: 0,
      eventTime: '2026-11-20T10:00:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900001' }],
      serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
      mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
    });
    await post('/v1/sessions/s1/terminate', {
      requestNumber: 1,
      eventTime: '2026-11-20T10:01:30Z',
      terminationCause: 'DIAMETER_LOGOUT',
      mscc: [{ ratingGroup: 100, used: [{ time: 90 }] }],
    });
    const sms = {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T10:10:00Z',
      serviceContextId: '32274@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900001' }],
      serviceInformation: { sms: { recipients: ['447911123456'] } },
      mscc: [{ ratingGroup: 300 }],
    };
    await post('/v1/events/sms-1', sms);
    await post('/v1/events/sms-1', sms); // a replay: still one record
    expect(await drain()).toBeGreaterThan(0);

    const trail = (await app.inject({ url: '/v1/sessions/s1/trail', headers: BILLING })).json();
    expect(trail.requests.map((r: { phase: string }) => r.phase)).toEqual(['initiate', 'terminate']);
    expect(trail.requests[0].answer.mscc[0].granted).toEqual({ time: 60 });
    expect(trail.records).toHaveLength(1);
    expect(trail.records[0]).toMatchObject({
      recordId: 'session:s1:100',
      kind: 'session',
      usage: '90',
      cost: '0.275',
      closeCause: 'DIAMETER_LOGOUT',
    });
    expect(trail.records[0].breakdown).toMatchObject({
      ratingGroup: 100,
      cost: '0.275',
      destination: 'UK_MOBILE',
      connectFee: '0.05',
    });

    const event = (await app.inject({ url: '/v1/events/sms-1/trail', headers: BILLING })).json();
    expect(event.records).toEqual([
      expect.objectContaining({ recordId: 'event:sms-1', cost: '0.04', closeCause: 'DIRECT_DEBITING' }),
    ]);
    expect(event.requests).toHaveLength(1);
  });

  it("shows a customer their own usage and nobody else's", async () => {
    const mine = await app.inject({
      url: '/v1/accounts/alice/usage',
      headers: { authorization: 'Bearer demo-selfcare-alice' },
    });
    expect(mine.json().usage.map((u: { recordId: string }) => u.recordId)).toEqual([
      'event:sms-1',
      'session:s1:100',
    ]);
    const theirs = await app.inject({
      url: '/v1/accounts/bob/usage',
      headers: { authorization: 'Bearer demo-selfcare-alice' },
    });
    expect(theirs.statusCode).toBe(403);
    expect((await app.inject({ url: '/v1/sessions/nope/trail', headers: BILLING })).statusCode).toBe(404);
  });
});
