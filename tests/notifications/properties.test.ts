/**
 * Properties: the crossing rule fires at every downward crossing and never twice without a re-arm
 * in between, whatever the sequence of values; and no body sent to the notification and dunning
 * routes is answered with a 5xx.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureDunningSchema } from '../../src/billing/dunning/schema.js';
import { conditionHolds, step, type Rule } from '../../src/notifications/rules.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { ensureMoneyInSchemas, harness, newAccount } from '../payments/support.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

describe('the crossing rule', () => {
  it('fires exactly where the value goes from at-or-above the threshold to below it', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.array(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 13n }), { maxLength: 200 }),
        (threshold, values) => {
          const rule: Rule = {
            code: 'r',
            kind: 'money_below',
            accountId: null,
            amountNano: threshold,
            enabled: true,
          };
          let fired = false;
          values.forEach((v, i) => {
            const s = step(
              fired,
              conditionHolds(rule, { unit: 'money', kind: 'debit', delta: 0n, valueAfter: v }, null),
            );
            const crossed = v < threshold && (i === 0 || values[i - 1]! >= threshold);
            expect(s.fire).toBe(crossed);
            fired = s.fired;
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('the routes', () => {
  const { redis, prefix } = testRedis();
  const { pool, schema } = testPostgres();
  let h: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    await ensureLedgerSchema(pool, schema);
    await ensureMoneyInSchemas(pool, schema, [
      () => ensureNotificationsSchema(pool, schema),
      () => ensureDunningSchema(pool, schema),
    ]);
    h = await harness({ redis, prefix, notifications: { pool, schema } });
    await newAccount(h.balances, 'acme', 'alice', { type: 'prepaid' });
  });

  const routes: [string, string][] = [
    ['PUT', '/v1/notification-rules/r1'],
    ['PUT', '/v1/accounts/alice/auto-topup'],
    ['POST', '/v1/accounts/alice/auto-topup/results'],
    ['PUT', '/v1/dunning-settings'],
  ];
  const field = fc.oneof(
    fc.anything(),
    fc.constantFrom(
      'money_below',
      'spend_above',
      'bundle_expiring',
      '-1',
      '0',
      '1e9',
      '99999999999.9999999999',
    ),
    fc.integer(),
  );
  const body = fc.oneof(
    fc.anything(),
    fc.record(
      {
        kind: field,
        amount: field,
        percent: field,
        days: field,
        threshold: field,
        target: field,
        maxPerDay: field,
        maxPerMonth: field,
        reference: field,
        requestId: field,
        outcome: field,
        reminderDays: fc.oneof(field, fc.array(field)),
        suspendAfterDays: field,
      },
      { requiredKeys: [] },
    ),
  );

  it.each(routes)('%s %s never answers 5xx', async (method, url) => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await h.app.inject({
          method: method as 'PUT' | 'POST',
          url,
          headers: { authorization: 'Bearer acme-billing', 'content-type': 'application/json' },
          payload: JSON.stringify(b) ?? 'null',
        });
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode >= 400) expect(res.headers['content-type']).toMatch(/problem\+json/);
      }),
      { numRuns: 150 },
    );
  });
});
