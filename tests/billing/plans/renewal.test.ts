/**
 * Assignments and renewals on the real Redis and PostgreSQL: a mid-period assignment is prorated by
 * local days (E.6 #2 shape through the service), E.6 #4 (a prepaid renewal without funds: unpaid, no
 * bundles, `plan.renewal_failed`; a top-up two days later renews with the original period end; no
 * top-up: cancelled after graceDays), postpaid renewals forced past the credit limit, reruns idempotent.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../../src/balances/store.js';
import { assignPlan, listAssignments } from '../../../src/billing/plans/assignments.js';
import { putPlan } from '../../../src/billing/plans/catalog.js';
import { cancelAssignment, changeAssignment } from '../../../src/billing/plans/changes.js';
import { renewDue, retryUnpaid } from '../../../src/billing/plans/renewals.js';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import { putProfile } from '../../../src/billing/plans/profiles.js';
import { testPostgres } from '../../support/postgres.js';
import { dumpKeys } from '../../support/redis-dump.js';
import { testRedis } from '../../support/redis.js';
import { GiB } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const P0 = Date.UTC(2026, 10, 1);
const P1 = Date.UTC(2026, 11, 1);
const P2 = Date.UTC(2027, 0, 1);
const DAY = 86_400_000;
let clock = P0;
const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const deps = { pool, schema, balances, now: () => clock };
const GBP = (x: number) => x * 1e9;

async function account(id: string, type: 'prepaid' | 'postpaid', money: number, creditLimitNano = 0) {
  await balances.createAccount(
    { tenant: 't', id, type, currency: 'GBP', subject: id, creditLimitNano },
    `c:${id}`,
  );
  await balances.addBalance('t', id, { id: 'main', unit: 'money', value: GBP(money) }, `m:${id}`);
  await putProfile(deps, 't', id, { billCycleDay: 1, timezone: 'Europe/London' });
}

async function bal(id: string) {
  const v = (await balances.getAccount('t', id))!;
  return Object.fromEntries(v.balances.map((b) => [b.id, { value: b.value, expiryMs: b.expiryMs }]));
}

const events = async (accountId: string) =>
  (
    await pool.query<{ type: string }>(
      `SELECT type FROM ${schema}.events WHERE account_id = $1 ORDER BY occurred_at, id`,
      [accountId],
    )
  ).rows.map((r) => r.type);

const charges = async (accountId: string) =>
  (
    await pool.query<{ kind: string; amount_nano: string; status: string }>(
      `SELECT kind, amount_nano::text, status FROM ${schema}.charges WHERE account_id = $1 ORDER BY id`,
      [accountId],
    )
  ).rows.map((r) => [r.kind, Number(r.amount_nano) / 1e9, r.status]);

beforeAll(async () => {
  await ensurePlansSchema(pool, schema);
  await putPlan(pool, schema, 't', 'basic', {
    period: 'month',
    prices: { GBP: '15.00' },
    bundles: [{ id: 'data', unit: 'data', amount: GiB, renewal: 'reset' }],
    graceDays: 7,
  });
});

describe('assignment', () => {
  it('prorates a mid-period start by local days: 15.00 from 17 November, cycle day 1 -> 7.00', async () => {
    await account('pr', 'prepaid', 20);
    clock = Date.UTC(2026, 10, 17);
    const r = await assignPlan(deps, 't', 'pr', {
      plan: 'basic',
      quantity: 1,
      coupons: [],
      reference: 'pr-1',
    });
    expect(r.assignment.current_period_end.getTime()).toBe(P1);
    expect(await charges('pr')).toEqual([['proration', 7, 'applied']]);
    const b = await bal('pr');
    expect(b.main!.value).toBe(GBP(13));
    // 14/30 of 1 GiB, floored to whole bytes.
    expect(b['plan.1.data']).toEqual({ value: Math.floor((GiB * 14) / 30), expiryMs: P1 });
    // A retry answers the first assignment; the same reference with another body is a conflict.
    const again = await assignPlan(deps, 't', 'pr', {
      plan: 'basic',
      quantity: 1,
      coupons: [],
      reference: 'pr-1',
    });
    expect(again).toMatchObject({ replayed: true, assignment: { id: r.assignment.id } });
    await expect(
      assignPlan(deps, 't', 'pr', { plan: 'basic', quantity: 2, coupons: [], reference: 'pr-1' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    clock = P0;
  });

  it('refuses a prepaid account that cannot pay, changing nothing', async () => {
    await account('poor', 'prepaid', 1);
    const before = await dumpKeys(redis, prefix);
    const rows = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.account_plans`);
    await expect(
      assignPlan(deps, 't', 'poor', { plan: 'basic', quantity: 1, coupons: [], reference: 'poor-1' }),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDIT' });
    expect(await dumpKeys(redis, prefix)).toEqual(before);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.account_plans`)).rows).toEqual(
      rows.rows,
    );
    expect(await charges('poor')).toEqual([]);
  });
});

describe('E.6 #4: prepaid renewal without funds', () => {
  it('turns unpaid without bundles, renews on a top-up with the original period end, else cancels after graceDays', async () => {
    clock = P0;
    for (const id of ['p4', 'q4']) {
      await account(id, 'prepaid', 20);
      await assignPlan(deps, 't', id, { plan: 'basic', quantity: 1, coupons: [], reference: `${id}-1` });
      await balances.debit('t', id, {
        opId: `use:${id}`,
        charge: { unit: 'data', units: GiB / 2, amountNano: 0 },
      });
    }
    clock = P1 + 60_000;
    const first = await renewDue(deps, 't', P1, { accounts: ['p4', 'q4'] });
    expect(first).toMatchObject({ renewed: 0, feesFailed: 2 });
    for (const id of ['p4', 'q4']) {
      const [a] = await listAssignments(deps, 't', id);
      expect(a).toMatchObject({ status: 'unpaid' });
      expect(a!.current_period_end.getTime()).toBe(P1);
      // No bundle renewed: the old one, half used, still ends at P1.
      expect((await bal(id))['plan.1.data']).toEqual({ value: GiB / 2, expiryMs: P1 });
      expect(await events(id)).toEqual(['plan.renewal_failed']);
      expect(await charges(id)).toEqual([
        ['fee', 15, 'applied'],
        ['fee', 15, 'failed'],
      ]);
    }
    // A rerun the same day changes nothing but tries again (still no money).
    expect(await renewDue(deps, 't', P1, { accounts: ['p4'] })).toMatchObject({ renewed: 0, feesFailed: 1 });
    expect(await events('p4')).toEqual(['plan.renewal_failed']);

    // Two days later p4 is topped up: the fee goes through, the bundle renews to the original end.
    clock = P1 + 2 * DAY;
    await balances.credit('t', 'p4', { opId: 'topup:p4', balanceId: 'main', amount: GBP(20) });
    expect(await retryUnpaid(deps, 't', 'p4', clock)).toMatchObject({ renewed: 1, feesCharged: 1 });
    const [p4] = await listAssignments(deps, 't', 'p4');
    expect(p4).toMatchObject({ status: 'active', periods_renewed: 1 });
    expect(p4!.current_period_end.getTime()).toBe(P2);
    expect(await bal('p4')).toMatchObject({
      main: { value: GBP(10) },
      'plan.1.data': { value: GiB, expiryMs: P2 },
    });
    expect(await charges('p4')).toEqual([
      ['fee', 15, 'applied'],
      ['fee', 15, 'applied'],
    ]);

    // q4 never pays: inside the grace it stays unpaid; after 7 days it is cancelled.
    expect(await renewDue(deps, 't', P1 + 6 * DAY, { accounts: ['q4'] })).toMatchObject({ cancelled: 0 });
    expect(await renewDue(deps, 't', P1 + 7 * DAY, { accounts: ['q4'] })).toMatchObject({ cancelled: 1 });
    const [q4] = await listAssignments(deps, 't', 'q4');
    expect(q4).toMatchObject({ status: 'cancelled' });
    expect(await events('q4')).toEqual(['plan.renewal_failed', 'plan.cancelled']);

    // Reruns change nothing in Redis or PostgreSQL.
    const dump = await dumpKeys(redis, prefix);
    const rows = await pool.query(`SELECT * FROM ${schema}.account_plans ORDER BY id`);
    expect(await renewDue(deps, 't', P1 + 7 * DAY, { accounts: ['p4', 'q4'] })).toMatchObject({
      renewed: 0,
      feesCharged: 0,
      cancelled: 0,
    });
    expect(await dumpKeys(redis, prefix)).toEqual(dump);
    expect((await pool.query(`SELECT * FROM ${schema}.account_plans ORDER BY id`)).rows).toEqual(rows.rows);
  });
});

describe('postpaid renewal', () => {
  it('is forced past the credit limit and says so in an event', async () => {
    clock = P0;
    await account('pp', 'postpaid', 0, GBP(20));
    await assignPlan(deps, 't', 'pp', { plan: 'basic', quantity: 1, coupons: [], reference: 'pp-1' });
    expect((await bal('pp')).main!.value).toBe(-GBP(15));
    clock = P1;
    expect(await renewDue(deps, 't', P1, { accounts: ['pp'] })).toMatchObject({ renewed: 1, feesCharged: 1 });
    expect((await bal('pp')).main!.value).toBe(-GBP(30));
    expect(await events('pp')).toEqual(['account.credit_limit_exceeded']);
    // Three periods at once when the run was away: each charged once.
    clock = Date.UTC(2027, 2, 2);
    expect(await renewDue(deps, 't', clock, { accounts: ['pp'] })).toMatchObject({ renewed: 3 });
    expect(await renewDue(deps, 't', clock, { accounts: ['pp'] })).toMatchObject({ renewed: 0 });
    expect((await bal('pp')).main!.value).toBe(-GBP(75));
  });
});

describe('plan changes', () => {
  it('now: credits the unused fee, charges the new one for the rest, replaces the bundles prorated', async () => {
    clock = P0;
    await putPlan(pool, schema, 't', 'big', {
      period: 'month',
      prices: { GBP: '30.00' },
      bundles: [{ id: 'data', unit: 'data', amount: 2 * GiB, renewal: 'reset' }],
    });
    await account('ch', 'prepaid', 40);
    const { assignment } = await assignPlan(deps, 't', 'ch', {
      plan: 'basic',
      quantity: 1,
      coupons: [],
      reference: 'ch-1',
    });
    expect((await bal('ch')).main!.value).toBe(GBP(25));
    // 16 November: 15 of 30 days left -> 7.50 back, 15.00 for big.
    clock = Date.UTC(2026, 10, 16);
    const req = { plan: 'big', effective: 'now' as const, reference: 'ch-up' };
    const r = await changeAssignment(deps, 't', 'ch', assignment.id, req);
    expect(r.assignment).toMatchObject({ plan_code: 'big', status: 'active' });
    expect(await bal('ch')).toMatchObject({
      main: { value: GBP(17.5) },
      'plan.1.data': { value: GiB, expiryMs: P1 },
    });
    expect(await changeAssignment(deps, 't', 'ch', assignment.id, req)).toMatchObject({ replayed: true });
    expect((await bal('ch')).main!.value).toBe(GBP(17.5));
    // At period end: quantity 2 from the next renewal on.
    await changeAssignment(deps, 't', 'ch', assignment.id, {
      quantity: 2,
      effective: 'period_end',
      reference: 'ch-q',
    });
    await balances.credit('t', 'ch', { opId: 'topup:ch', balanceId: 'main', amount: GBP(100) });
    clock = P1;
    expect(await renewDue(deps, 't', P1, { accounts: ['ch'] })).toMatchObject({ renewed: 1 });
    expect(await bal('ch')).toMatchObject({
      main: { value: GBP(57.5) },
      'plan.1.data': { value: 4 * GiB, expiryMs: P2 },
    });
    const [a] = await listAssignments(deps, 't', 'ch');
    expect(a).toMatchObject({ plan_code: 'big', quantity: 2, next_plan_code: null });
  });
});

describe('cancellation now', () => {
  it('refunds the unused part of the fee and takes the bundles off; a repeat changes nothing', async () => {
    clock = P0;
    await account('cx', 'prepaid', 20);
    const { assignment } = await assignPlan(deps, 't', 'cx', {
      plan: 'basic',
      quantity: 1,
      coupons: [],
      reference: 'cx-1',
    });
    clock = Date.UTC(2026, 10, 21); // 10 of 30 days left: 5.00 back
    const r = await cancelAssignment(deps, 't', 'cx', assignment.id, 'now', true);
    expect(r).toMatchObject({ status: 'cancelled' });
    expect(await bal('cx')).toEqual({ main: { value: GBP(10), expiryMs: null } });
    expect(await charges('cx')).toEqual([
      ['fee', 15, 'applied'],
      ['adjustment', -5, 'applied'],
    ]);
    const dump = await dumpKeys(redis, prefix);
    await cancelAssignment(deps, 't', 'cx', assignment.id, 'now', true);
    expect(await dumpKeys(redis, prefix)).toEqual(dump);
  });
});
