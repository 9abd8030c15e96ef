/**
 * Rules about a date coming: a bundle expiring within N days and a plan renewal due within N days
 * are announced once each per date, however often the job runs, and only for the accounts a rule
 * names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { ensurePlansSchema } from '../../src/billing/plans/schema.js';
import { ruleFromBody } from '../../src/notifications/rules.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { saveRule } from '../../src/notifications/store.js';
import { upcomingOnce } from '../../src/notifications/upcoming.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { catchUp, CATCHING_UP } from '../support/catch-up.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const store = createBalanceStore({ redis, keyPrefix: prefix });
const DAY = 86_400_000;
const NOW = Date.now();

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensurePlansSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
});

const rule = (tenant: string, code: string, body: Parameters<typeof ruleFromBody>[1]) =>
  saveRule(pool, schema, tenant, ruleFromBody(code, body));

async function events(tenant: string) {
  const r = await pool.query<{ type: string; account_id: string; payload: Record<string, unknown> }>(
    `SELECT type, account_id, payload FROM ${schema}.events WHERE tenant = $1 ORDER BY account_id, sequence`,
    [tenant],
  );
  return r.rows;
}

describe('bundle expiring', CATCHING_UP, () => {
  it('is announced once, N days before the expiry the detector saw at the grant', async () => {
    await store.createAccount(
      { tenant: 'e', id: 'a', type: 'prepaid', currency: 'EUR', subject: 'a' },
      'c-a',
    );
    await store.addBalance(
      'e',
      'a',
      { id: 'soon', unit: 'sms', value: 10, expiryMs: NOW + 5 * DAY },
      'b-soon',
    );
    await store.addBalance(
      'e',
      'a',
      { id: 'later', unit: 'sms', value: 10, expiryMs: NOW + 20 * DAY },
      'b-later',
    );
    await store.addBalance('e', 'a', { id: 'never', unit: 'data', value: 10 }, 'b-never');
    await rule('e', 'week', { kind: 'bundle_expiring', days: 7 });
    while ((await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })) > 0);
    const expiryOf = async (t: string, a: string, b: string) =>
      (await store.getAccount(t, a))?.balances.find((x) => x.id === b)?.expiryMs ?? null;
    await catchUp({ pool, schema, groupOf: async () => null, expiryOf });
    for (let i = 0; i < 3; i++) await upcomingOnce(pool, schema, NOW);
    expect((await events('e')).map((e) => [e.type, e.payload.balanceId])).toEqual([
      ['bundle.expiring', 'soon'],
    ]);
    await upcomingOnce(pool, schema, NOW + 14 * DAY); // 'later' now within a week
    await upcomingOnce(pool, schema, NOW + 15 * DAY);
    expect((await events('e')).map((e) => e.payload.balanceId)).toEqual(['soon', 'later']);
  });
});

describe('renewal due', () => {
  async function assignment(tenant: string, accountId: string, periodEndMs: number, status = 'active') {
    await pool.query(
      `INSERT INTO ${schema}.account_plans (id, tenant, account_id, seq, plan_code, plan_version, quantity, status,
         start_at, current_period_start, current_period_end, anchor_day, reference, request_hash)
       VALUES ($1::uuid, $2, $3, 1, 'basic', 1, 1, $4, $5, $5, $6, 1, $1::text, 'h')`,
      [randomUUID(), tenant, accountId, status, new Date(periodEndMs - 30 * DAY), new Date(periodEndMs)],
    );
  }

  it('is announced once per period, for the accounts the rule covers', async () => {
    await assignment('p', 'x', NOW + 2 * DAY);
    await assignment('p', 'y', NOW + 2 * DAY);
    await assignment('p', 'z', NOW + 2 * DAY, 'cancelled');
    await rule('p', 'x-soon', { kind: 'renewal_due', days: 3, accountId: 'x' });
    await rule('q', 'other-tenant', { kind: 'renewal_due', days: 3 });
    for (let i = 0; i < 3; i++) await upcomingOnce(pool, schema, NOW);
    await upcomingOnce(pool, schema, NOW - 5 * DAY); // too early: nothing
    const got = await events('p');
    expect(got.map((e) => [e.type, e.account_id, e.payload.planCode])).toEqual([
      ['plan.renewal_due', 'x', 'basic'],
    ]);
    expect(await events('q')).toEqual([]);
  });
});
