/**
 * Notifications detected from the drained ledger: each downward crossing fires once over many debits
 * and re-arms after a top-up; a shared-group balance fires once per group crossing; bundles fire at
 * 80 % and 100 % of their grant; auto top-up asks once per crossing, within its caps, and three
 * failures in a row disable it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { reportResult, saveAutoTopUp } from '../../src/notifications/autotopup.js';
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
const store = createBalanceStore({ redis, keyPrefix: prefix });
const NANO = 1_000_000_000;
const groupOf = async (t: string, a: string) => (await store.getAccount(t, a))?.account.sharedGroup ?? null;

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
});

/** Drains the outboxes into the ledger, then runs the detector until it has read everything. */
async function detect(): Promise<void> {
  while ((await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })) > 0);
  await catchUp({ pool, schema, groupOf, batchSize: 7 });
}

async function events(tenant: string, type?: string) {
  const r = await pool.query<{ type: string; account_id: string; payload: Record<string, unknown> }>(
    `SELECT type, account_id, payload FROM ${schema}.events WHERE tenant = $1 AND ($2::text IS NULL OR type = $2)
      ORDER BY account_id, sequence`,
    [tenant, type ?? null],
  );
  return r.rows;
}

const rule = (tenant: string, code: string, body: Parameters<typeof ruleFromBody>[1]) =>
  saveRule(pool, schema, tenant, ruleFromBody(code, body));
const money = (n: number) => ({ unit: 'generic' as const, units: 0, amountNano: n * NANO });
let ops = 0;
const debit = (t: string, a: string, n: number) => store.debit(t, a, { opId: `d${++ops}`, charge: money(n) });
const topUp = (t: string, a: string, n: number, balanceId = 'main') =>
  store.credit(t, a, { opId: `k${++ops}`, balanceId, amount: n * NANO });

describe('money rules', CATCHING_UP, () => {
  it('fire once per downward crossing over many debits, and again after a top-up', async () => {
    await store.createAccount(
      { tenant: 'm', id: 'a', type: 'prepaid', currency: 'EUR', subject: 'a' },
      'c-a',
    );
    await store.addBalance('m', 'a', { id: 'main', unit: 'money', value: 20 * NANO }, 'b-a');
    await rule('m', 'low5', { kind: 'money_below', amount: '5' });
    await rule('m', 'empty', { kind: 'money_exhausted' });
    for (let i = 0; i < 20; i++) await debit('m', 'a', 1); // 20 → 0, crossing 5 and 0 once each
    await detect();
    for (let i = 0; i < 3; i++) await detect(); // nothing new to read: nothing fires again
    expect((await events('m')).map((e) => [e.type, e.payload.value])).toEqual([
      ['balance.low', '4'],
      ['balance.exhausted', '0'],
    ]);
    await topUp('m', 'a', 3); // still below 5: re-arms the exhausted rule only
    await debit('m', 'a', 3);
    await topUp('m', 'a', 10);
    for (let i = 0; i < 8; i++) await debit('m', 'a', 1);
    await detect();
    expect((await events('m')).map((e) => e.type)).toEqual([
      'balance.low',
      'balance.exhausted',
      'balance.exhausted',
      'balance.low',
    ]);
  });

  it('a shared-group balance fires once per group crossing, whichever member crossed it', async () => {
    for (const id of ['x', 'y', 'z'])
      await store.createAccount(
        { tenant: 'g', id, type: 'prepaid', currency: 'EUR', subject: id, sharedGroup: 'fam' },
        `c-${id}`,
      );
    await store.addBalance('g', 'x', { id: 'pool', unit: 'money', value: 30 * NANO, shared: true }, 'b-pool');
    await rule('g', 'low10', { kind: 'money_below', amount: '10' });
    for (let i = 0; i < 9; i++) await debit('g', ['x', 'y', 'z'][i % 3]!, 3); // 30 → 3
    await detect();
    const low = await events('g', 'balance.low');
    expect(low).toHaveLength(1);
    expect(low[0]!.payload).toMatchObject({ groupId: 'fam', balanceId: 'pool', value: '9' });
  });

  it('an account rule applies to its account only', async () => {
    await store.createAccount(
      { tenant: 'o', id: 'p', type: 'prepaid', currency: 'EUR', subject: 'p' },
      'c-p',
    );
    await store.createAccount(
      { tenant: 'o', id: 'q', type: 'prepaid', currency: 'EUR', subject: 'q' },
      'c-q',
    );
    for (const id of ['p', 'q'])
      await store.addBalance('o', id, { id: 'main', unit: 'money', value: 5 * NANO }, `b-${id}`);
    await rule('o', 'p-low', { kind: 'money_below', amount: '3', accountId: 'p' });
    for (const id of ['p', 'q']) await debit('o', id, 4);
    await detect();
    expect((await events('o')).map((e) => e.account_id)).toEqual(['p']);
  });
});

describe('spend rules', CATCHING_UP, () => {
  it("fire once when the month's spend goes above X, and again in the next month", async () => {
    let clock = Date.parse('2026-11-29T10:00:00Z');
    const timed = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
    await timed.createAccount(
      { tenant: 's', id: 'a', type: 'prepaid', currency: 'EUR', subject: 'a' },
      'c-s',
    );
    await timed.addBalance('s', 'a', { id: 'main', unit: 'money', value: 100 * NANO }, 'b-s');
    await rule('s', 'over10', { kind: 'spend_above', amount: '10' });
    const spend = (n: number) => timed.debit('s', 'a', { opId: `sp${++ops}`, charge: money(n) });
    for (let i = 0; i < 6; i++) await spend(3); // 18 spent: above 10 at the 4th debit only
    await timed.credit('s', 'a', { opId: 'topup-s', balanceId: 'main', amount: 50 * NANO }); // not a refund
    await spend(1);
    await detect();
    clock = Date.parse('2026-12-01T00:00:01Z'); // a new month starts from nothing
    for (let i = 0; i < 3; i++) await spend(3);
    await spend(2);
    await detect();
    expect((await events('s')).map((e) => [e.type, e.payload.period, e.payload.spent])).toEqual([
      ['spend.threshold_reached', '2026-11', '12'],
      ['spend.threshold_reached', '2026-12', '11'],
    ]);
  });
});

describe('bundle rules', CATCHING_UP, () => {
  it('fire at 80 % and 100 % of the grant, once each, and again after a new grant', async () => {
    await store.createAccount(
      { tenant: 'b', id: 'a', type: 'prepaid', currency: 'EUR', subject: 'a' },
      'c-b',
    );
    await store.addBalance('b', 'a', { id: 'sms', unit: 'sms', value: 10 }, 'b-sms');
    await rule('b', 'used80', { kind: 'bundle_used_pct', percent: 80 });
    await rule('b', 'used100', { kind: 'bundle_used_pct', percent: 100 });
    const sms = () =>
      store.debit('b', 'a', { opId: `s${++ops}`, charge: { unit: 'sms', units: 1, amountNano: 0 } });
    for (let i = 0; i < 10; i++) await sms();
    await detect();
    expect((await events('b')).map((e) => [e.payload.rule, e.payload.value])).toEqual([
      ['used80', '2'],
      ['used100', '0'],
    ]);
    await store.credit('b', 'a', { opId: 'grant2', balanceId: 'sms', amount: 5 }); // a new grant of 5
    for (let i = 0; i < 4; i++) await sms();
    await detect();
    expect((await events('b')).map((e) => [e.payload.rule, e.payload.value, e.payload.allowance])).toEqual([
      ['used80', '2', '10'],
      ['used100', '0', '10'],
      ['used80', '1', '5'],
    ]);
  });
});

describe('auto top-up', CATCHING_UP, () => {
  const setup = async (id: string, maxPerDay: number) => {
    await store.createAccount({ tenant: 'at', id, type: 'prepaid', currency: 'EUR', subject: id }, `c-${id}`);
    await store.addBalance('at', id, { id: 'main', unit: 'money', value: 10 * NANO }, `b-${id}`);
    await saveAutoTopUp(pool, schema, 'at', id, {
      balanceId: 'main',
      thresholdNano: 5n * BigInt(NANO),
      amountNano: null,
      targetNano: 20n * BigInt(NANO),
      maxPerDay,
      maxPerMonth: 10,
      reference: `cfg-${id}`,
    });
  };
  const requests = async (id: string) =>
    (await events('at'))
      .filter((e) => e.account_id === id)
      .map((e) => [e.type, e.payload.amount ?? e.payload.reason]);
  const lastRequestId = async (id: string) =>
    (await events('at', 'autotopup.requested')).filter((e) => e.account_id === id).at(-1)!.payload
      .requestId as string;

  it('asks once per crossing up to the target, within the day cap', async () => {
    await setup('r', 2);
    for (let i = 0; i < 8; i++) await debit('at', 'r', 1); // 10 → 2: one request, at 4, for 16
    await detect();
    expect(await requests('r')).toEqual([['autotopup.requested', '16']]);
    const ok = { outcome: 'succeeded' as const, reference: 'psp-1' };
    const id1 = await lastRequestId('r');
    expect(await reportResult(pool, schema, 'at', 'r', { requestId: id1, ...ok })).toBe('recorded');
    expect(await reportResult(pool, schema, 'at', 'r', { requestId: id1, ...ok })).toBe('replayed');
    expect(
      await reportResult(pool, schema, 'at', 'r', { requestId: id1, outcome: 'failed', reference: 'x' }),
    ).toBe('conflict');
    await topUp('at', 'r', 18); // the CRM tops up through the credits route: back to 20, re-armed
    await debit('at', 'r', 16); // 4: second request of the day
    await detect();
    await reportResult(pool, schema, 'at', 'r', {
      requestId: await lastRequestId('r'),
      ...ok,
      reference: 'psp-2',
    });
    await topUp('at', 'r', 16);
    await debit('at', 'r', 17); // 3: capped
    await detect();
    expect(await requests('r')).toEqual([
      ['autotopup.requested', '16'],
      ['autotopup.requested', '16'],
      ['autotopup.capped', 'max_per_day'],
    ]);
  });

  it('three failures in a row disable the rule', async () => {
    await setup('f', 10);
    for (let n = 0; n < 3; n++) {
      await debit('at', 'f', 6); // below 5
      await detect();
      const requestId = await lastRequestId('f');
      await reportResult(pool, schema, 'at', 'f', { requestId, outcome: 'failed', reference: `psp-f${n}` });
      await topUp('at', 'f', 6); // topped up another way: re-armed
      await detect();
    }
    await debit('at', 'f', 6);
    await detect();
    expect((await requests('f')).map((e) => e[0])).toEqual([
      'autotopup.requested',
      'autotopup.requested',
      'autotopup.requested',
      'autotopup.disabled',
    ]);
  });
});
