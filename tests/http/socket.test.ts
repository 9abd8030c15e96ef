/**
 * Over a real socket, as a network element talks to it: concurrent sessions of one prepaid account
 * never overdraw it (a property test over random call mixes), and every report is charged once.
 */
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { decimalToNano } from '../../src/rating/money.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let store: BalanceStore;
let base = '';
let run = 0;

beforeAll(async () => {
  ({ app, balances: store } = await testApp({ redis, prefix }));
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

async function post(path: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer demo-network' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

describe('concurrent sessions of one account over HTTP', () => {
  it('never overdraw and charge every used second once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            requested: fc.integer({ min: 1, max: 120 }),
            used: fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 3 }),
          }),
          { minLength: 2, maxLength: 6 },
        ),
        fc.integer({ min: 50_000_000, max: 600_000_000 }),
        async (calls, initial) => {
          const id = `acct${++run}`;
          const msisdn = `4477100${String(run).padStart(5, '0')}`;
          await store.createAccount(
            {
              tenant: 'acme',
              id,
              type: 'prepaid',
              currency: 'GBP',
              subject: id,
              subscriptions: [{ type: 'msisdn', value: msisdn }],
            },
            'c',
          );
          await store.addBalance('acme', id, { id: 'main', unit: 'money', value: initial }, 'b');
          const outcomes = await Promise.all(
            calls.map(async (c, k) => {
              const sid = `${id};call${k}`;
              const init = await post(`/v1/sessions/${encodeURIComponent(sid)}/initiate`, {
                requestNumber: 0,
                eventTime: '2026-11-20T10:00:00Z',
                serviceContextId: '32260@3gpp.org',
                subscriptionIds: [{ type: 'E164', data: msisdn }],
                serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
                mscc: [{ ratingGroup: 100, requested: { time: c.requested } }],
              });
              if (init.json.resultCode !== 2001) return 0;
              let n = 1;
              for (const used of c.used) {
                await post(`/v1/sessions/${encodeURIComponent(sid)}/update`, {
                  requestNumber: n++,
                  eventTime: '2026-11-20T10:01:00Z',
                  mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: used }] }],
                });
              }
              const t = await post(`/v1/sessions/${encodeURIComponent(sid)}/terminate`, {
                requestNumber: n,
                eventTime: '2026-11-20T10:05:00Z',
                mscc: [{ ratingGroup: 100, used: [{ time: 0 }] }],
              });
              return decimalToNano((t.json.costInformation as { amount: string } | undefined)?.amount ?? '0');
            }),
          );
          const main = (await store.getAccount('acme', id))!.balances[0]!;
          expect(main.value).toBeGreaterThanOrEqual(0);
          expect(main.held).toBe(0);
          // What the sessions say they cost is exactly what left the account.
          expect(initial - main.value).toBe(outcomes.reduce((a, b) => a + b, 0));
        },
      ),
      { numRuns: 12 },
    );
  });
});
