/**
 * Plan writes that move money (assignment, immediate change, cancellation with refund) happen at the
 * moment first asked: when the PostgreSQL commit fails after Redis took the money, the caller's retry
 * the next day replays the same movement and records the same amounts — never a second charge at a
 * later moment's price. Another write on the assignment waits (409 CHANGE_PENDING) until the
 * unfinished one is retried; a refusal leaves no trace.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore, type BalanceStore } from '../../../src/balances/store.js';
import { assignPlan } from '../../../src/billing/plans/assignments.js';
import { putPlan } from '../../../src/billing/plans/catalog.js';
import { cancelAssignment, changeAssignment } from '../../../src/billing/plans/changes.js';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import { putProfile } from '../../../src/billing/plans/profiles.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { outboxMoves } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const DAY = 86_400_000;
let clock = Date.UTC(2026, 10, 1);
const balances = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const deps = { pool, schema, balances, now: () => clock };
const GBP = (x: number) => x * 1e9;

/** The store, but `method` fails once: a step after the money moved (an outage, say). */
function failsOnce(store: BalanceStore, method: keyof BalanceStore): BalanceStore {
  let armed = true;
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === method && armed)
        return () => {
          armed = false;
          return Promise.reject(new Error('connection lost'));
        };
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

async function account(id: string, money: number) {
  await balances.createAccount(
    { tenant: 't', id, type: 'prepaid', currency: 'GBP', subject: id, creditLimitNano: 0 },
    `c:${id}`,
  );
  await balances.addBalance('t', id, { id: 'main', unit: 'money', value: GBP(money) }, `m:${id}`);
  await putProfile(deps, 't', id, { billCycleDay: 1, timezone: 'Europe/London' });
}

/** A prepaid account with `money` pounds on plan `basic` from 1 November (15.00 paid). */
async function assignedOn1November(id: string, money: number) {
  clock = Date.UTC(2026, 10, 1);
  await account(id, money);
  const r = await assignPlan(deps, 't', id, {
    plan: 'basic',
    quantity: 1,
    coupons: [],
    reference: `${id}-1`,
  });
  return r.assignment;
}

const main = async (id: string) =>
  (await balances.getAccount('t', id))!.balances.find((b) => b.id === 'main')!.value;

const charges = async (accountId: string) =>
  (
    await pool.query<{ kind: string; amount_nano: string; status: string }>(
      `SELECT kind, amount_nano::text, status FROM ${schema}.charges WHERE account_id = $1 ORDER BY id`,
      [accountId],
    )
  ).rows.map((r) => [r.kind, Number(r.amount_nano) / 1e9, r.status]);

const moneyMoves = async (id: string) =>
  (await outboxMoves(redis, balances, 't', id))
    .filter((m) => m.balanceId === 'main')
    .map((m) => m.delta / 1e9);

const intents = async () => (await pool.query(`SELECT subject, reference FROM ${schema}.plan_intents`)).rows;

beforeAll(async () => {
  await ensurePlansSchema(pool, schema);
  const data = [{ id: 'data', unit: 'data', amount: 1024, renewal: 'reset' as const }];
  await putPlan(pool, schema, 't', 'basic', { period: 'month', prices: { GBP: '15.00' }, bundles: data });
  await putPlan(pool, schema, 't', 'big', { period: 'month', prices: { GBP: '30.00' }, bundles: data });
});

describe('a write whose commit failed after the money moved, retried the next day', () => {
  it('assignment: the fee of the first moment (7.00 from 17 November), debited once', async () => {
    await account('as', 20);
    clock = Date.UTC(2026, 10, 17);
    const req = { plan: 'basic', quantity: 1, coupons: [], reference: 'as-1' };
    await expect(
      assignPlan({ ...deps, balances: failsOnce(balances, 'renewBundle') }, 't', 'as', req),
    ).rejects.toThrow('connection lost');
    expect(await main('as')).toBe(GBP(13)); // the fee left; nothing in PostgreSQL says so yet
    expect(await intents()).toEqual([{ subject: 'assign:as', reference: 'as-1' }]);
    clock += DAY; // 18 November: 13/30 days would be 6.50
    const r = await assignPlan(deps, 't', 'as', req);
    expect(r.replayed).toBe(false);
    expect(await main('as')).toBe(GBP(13));
    expect(await moneyMoves('as')).toEqual([20, -7]);
    expect(await charges('as')).toEqual([['proration', 7, 'applied']]);
    expect(r.assignment.start_at.getTime()).toBe(Date.UTC(2026, 10, 17));
    expect(await intents()).toEqual([]);
  });

  it('change now: 7.50 more on 16 November (15 of 30 days), once; another write waits for it', async () => {
    const a = await assignedOn1November('ch', 40);
    clock = Date.UTC(2026, 10, 16);
    const req = { plan: 'big', effective: 'now' as const, reference: 'ch-up' };
    await expect(
      changeAssignment({ ...deps, balances: failsOnce(balances, 'renewBundle') }, 't', 'ch', a.id, req),
    ).rejects.toThrow('connection lost');
    expect(await main('ch')).toBe(GBP(17.5));
    clock += DAY;
    // Another change, or a cancellation, must not overtake the unfinished one.
    await expect(
      changeAssignment(deps, 't', 'ch', a.id, { quantity: 2, effective: 'now', reference: 'ch-q' }),
    ).rejects.toMatchObject({ code: 'CHANGE_PENDING', extra: { reference: 'ch-up' } });
    await expect(cancelAssignment(deps, 't', 'ch', a.id, 'now', true)).rejects.toMatchObject({
      code: 'CHANGE_PENDING',
    });
    const r = await changeAssignment(deps, 't', 'ch', a.id, req);
    expect(r.assignment).toMatchObject({ plan_code: 'big', change_reference: 'ch-up' });
    expect(await main('ch')).toBe(GBP(17.5)); // 16 November's 7.50, not 17 November's 7.00 as well
    expect(await moneyMoves('ch')).toEqual([40, -15, -7.5]);
    expect(await charges('ch')).toEqual([
      ['fee', 15, 'applied'],
      ['adjustment', -7.5, 'applied'],
      ['proration', 15, 'applied'],
    ]);
    expect(await intents()).toEqual([]);
  });

  it('cancellation with refund: the refund of the first moment (5.00 on 21 November), once', async () => {
    const a = await assignedOn1November('cx', 20);
    clock = Date.UTC(2026, 10, 21);
    const failing = failsOnce(balances, 'removeBalance');
    await expect(
      cancelAssignment({ ...deps, balances: failing }, 't', 'cx', a.id, 'now', true),
    ).rejects.toThrow('connection lost');
    expect(await main('cx')).toBe(GBP(10));
    clock += 2 * DAY;
    const r = await cancelAssignment(deps, 't', 'cx', a.id, 'now', true);
    expect(r).toMatchObject({ status: 'cancelled', end_at: new Date(Date.UTC(2026, 10, 21)) });
    expect(await main('cx')).toBe(GBP(10));
    expect(await charges('cx')).toEqual([
      ['fee', 15, 'applied'],
      ['adjustment', -5, 'applied'],
    ]);
  });
});

describe('the same request sent twice at once', () => {
  it('assigns once and charges once; the other answer is the replay', async () => {
    clock = Date.UTC(2026, 10, 1);
    await account('twice', 40);
    const req = { plan: 'basic', quantity: 1, coupons: [], reference: 'twice-1' };
    const answers = await Promise.all([
      assignPlan(deps, 't', 'twice', req),
      assignPlan(deps, 't', 'twice', req),
      assignPlan(deps, 't', 'twice', req),
    ]);
    expect(answers.map((a) => a.replayed).sort()).toEqual([false, true, true]);
    expect(new Set(answers.map((a) => a.assignment.id)).size).toBe(1);
    expect(await main('twice')).toBe(GBP(25));
    expect(await charges('twice')).toEqual([['fee', 15, 'applied']]);
    expect(await intents()).toEqual([]);
  });
});

describe('a refused write', () => {
  it('leaves no moment behind, and a corrected retry under the same reference is charged at its own time', async () => {
    clock = Date.UTC(2026, 10, 17);
    await account('poor', 1);
    const req = { plan: 'basic', quantity: 1, coupons: [], reference: 'poor-1' };
    await expect(assignPlan(deps, 't', 'poor', req)).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDIT' });
    expect(await intents()).toEqual([]);
    await balances.credit('t', 'poor', { opId: 'topup:poor', balanceId: 'main', amount: GBP(20) });
    clock += DAY; // 18 November: 13/30 of 15.00
    await assignPlan(deps, 't', 'poor', req);
    expect(await charges('poor')).toEqual([['proration', 6.5, 'applied']]);
    expect(await main('poor')).toBe(GBP(14.5));
  });
});
