/**
 * Whatever a client sends to /jsonrpc, the answer is never a 500 nor SERVER_ERROR (that would
 * say the engine failed), and the configuration of the facade is checked at start. Without
 * PostgreSQL here; hostile-store.test.ts calls every method with its stores.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;

beforeAll(async () => {
  ({ app } = await testApp({ redis, prefix, cgrates: { currency: 'GBP' } }));
});
afterAll(() => app.close());

const METHODS = [
  'APIerSv2.SetAccount',
  'APIerSv2.GetAccount',
  'APIerSv2.GetAccounts',
  'APIerSv1.RemoveAccount',
  'APIerSv1.AddBalance',
  'APIerSv1.DebitBalance',
  'APIerSv1.SetBalance',
  'APIerSv1.RemoveBalances',
  'APIerSv1.GetCost',
  'APIerSv1.GetMaxUsage',
  'SessionSv1.InitiateSession',
  'SessionSv1.UpdateSession',
  'SessionSv1.TerminateSession',
  'SessionSv1.ProcessCDR',
  'SessionSv1.AuthorizeEvent',
  'APIerSv2.SetActions',
  'CDRsV2.GetCDRs',
  'SessionSv1.GetActiveSessions',
  'SessionSv1.ForceDisconnect',
];
const FIELDS = [
  'Tenant',
  'Account',
  'BalanceType',
  'Value',
  'Balance',
  'Usage',
  'Destination',
  'Subject',
  'Event',
  'Filters',
  'Limit',
];
const anyValue = fc.oneof(
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('*monetary', '*voice', '+720h', '1m', 'acme', '-1', '1e400'),
  fc.dictionary(
    fc.constantFrom('ID', 'ExpiryTime', 'Weight', 'Account', 'OriginID', 'Usage'),
    fc.jsonValue(),
  ),
  fc.array(fc.string()),
);

describe('hostile requests', () => {
  it('never a 500, never SERVER_ERROR', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.dictionary(fc.constantFrom(...FIELDS), anyValue),
        async (method, arg) => {
          const r = await app.inject({
            method: 'POST',
            url: '/jsonrpc',
            headers: { authorization: 'Bearer demo-billing', 'content-type': 'application/json' },
            payload: JSON.stringify({ method, params: [arg], id: 1 }),
          });
          // 400: the app's JSON reader refuses a `__proto__` key before any route (problem+json).
          expect([200, 400], r.body).toContain(r.statusCode);
          if (r.statusCode === 200)
            expect(String(r.json<{ error: unknown }>().error ?? '')).not.toMatch(/^SERVER_ERROR/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('configuration', () => {
  const load = (env: NodeJS.ProcessEnv) => loadConfig(env, () => '').cgrates;

  it('off unless CGRATES_API=on; the TCP listener only with a port', () => {
    expect(load({})).toBeUndefined();
    expect(load({ CGRATES_API: 'on' })).toEqual({
      currency: 'EUR',
      decimalsAsStrings: false,
      tariffRoot: 'tariffs',
    });
    expect(
      load({
        CGRATES_API: 'on',
        CGRATES_CURRENCY: 'GBP',
        CGRATES_DECIMALS: 'string',
        CGRATES_TCP_PORT: '2012',
        TARIFF_FOLDER_ROOT: '/srv/tariffs',
      }),
    ).toEqual({
      currency: 'GBP',
      decimalsAsStrings: true,
      tcpPort: 2012,
      tcpHost: '127.0.0.1',
      tariffRoot: '/srv/tariffs',
    });
  });

  it.each([
    { CGRATES_API: 'yes' },
    { CGRATES_CURRENCY: 'pounds' },
    { CGRATES_DECIMALS: 'float' },
    { CGRATES_TCP_PORT: '99999' },
  ])('refuses %o at start', (env) => {
    expect(() => load({ CGRATES_API: 'on', ...env })).toThrow(/CGRATES_/);
  });
});
