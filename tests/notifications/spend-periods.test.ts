/**
 * `spend_above` counts in the account's bill period when it has a billing profile: the stored bill
 * period when the run has one, else the period its profile tiles (cycle day, zone, start); an account
 * without a profile keeps the UTC calendar month (detect.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { putProfile } from '../../src/billing/plans/profiles.js';
import { ensurePlansSchema } from '../../src/billing/plans/schema.js';
import { ensureRunSchema } from '../../src/billing/run/schema.js';
import { ruleFromBody } from '../../src/notifications/rules.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { saveRule } from '../../src/notifications/store.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { catchUp, CATCHING_UP } from '../support/catch-up.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const NANO = 1_000_000_000;
let clock = Date.parse('2026-11-10T12:00:00Z');
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
let ops = 0;

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
  await ensureRunSchema(pool, schema);
  await ensurePlansSchema(pool, schema);
  await saveRule(pool, schema, 'bp', ruleFromBody('over10', { kind: 'spend_above', amount: '10' }));
  for (const id of ['b', 'd']) {
    await store.createAccount({ tenant: 'bp', id, type: 'prepaid', currency: 'EUR', subject: id }, `c-${id}`);
    await store.addBalance('bp', id, { id: 'main', unit: 'money', value: 100 * NANO }, `m-${id}`);
    await putProfile({ pool, schema, balances: store, now: Date.now }, 'bp', id, {
      timezone: 'UTC',
      billCycleDay: 15,
      billingSince: '2026-10-15T00:00:00Z',
    });
  }
});

async function spendAt(iso: string, id: string, n: number) {
  clock = Date.parse(iso);
  await store.debit('bp', id, {
    opId: `sp${++ops}`,
    charge: { unit: 'generic', units: 0, amountNano: n * NANO },
  });
  while ((await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })) > 0);
  await catchUp({ pool, schema, groupOf: async () => null });
}

async function fired(id: string) {
  const r = await pool.query<{ payload: { period: string; spent: string } }>(
    `SELECT payload FROM ${schema}.events WHERE tenant = 'bp' AND account_id = $1 AND type = 'spend.threshold_reached'
      ORDER BY sequence`,
    [id],
  );
  return r.rows.map((e) => [e.payload.period, e.payload.spent]);
}

describe('spend above X with a billing profile', CATCHING_UP, () => {
  it('counts in the bill period the profile tiles, not the calendar month', async () => {
    await spendAt('2026-11-10T12:00:00Z', 'b', 6); // period 10-15 → 11-15
    await spendAt('2026-11-20T12:00:00Z', 'b', 6); // period 11-15 → 12-15: 6 (the month: 12)
    expect(await fired('b')).toEqual([]);
    await spendAt('2026-12-02T12:00:00Z', 'b', 6); // the same bill period: 12 (the month: 6)
    expect(await fired('b')).toEqual([['2026-11-15T00:00:00.000Z/2026-12-15T00:00:00.000Z', '12']]);
  });

  it('counts in the bill period the run stored, where there is one', async () => {
    // The run opened 11-15 → 12-20 (as if the cycle day were 20 then): it wins over the profile's tiling.
    await pool.query(
      `INSERT INTO ${schema}.bill_periods (tenant, account_id, seq, period_start, period_end, status)
       VALUES ('bp', 'd', 1, '2026-11-15T00:00:00Z', '2026-12-20T00:00:00Z', 'open')`,
    );
    await spendAt('2026-11-20T12:00:00Z', 'd', 6);
    await spendAt('2026-12-17T12:00:00Z', 'd', 6);
    expect(await fired('d')).toEqual([['2026-11-15T00:00:00.000Z/2026-12-20T00:00:00.000Z', '12']]);
  });
});
