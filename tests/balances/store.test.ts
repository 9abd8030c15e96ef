/** Table tests of every balance script and result code, on the real Redis. */
import { beforeEach, describe, expect, it } from 'vitest';
import { libraryName } from '../../src/balances/scripts.js';
import { createBalanceStore, type BalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';
import { firstResult, runStep } from './step-helpers.js';

const { redis, prefix } = testRedis();
let clock = Date.UTC(2026, 10, 20, 10, 0, 0);
const NANO = 1_000_000_000;
const S = 1e9; // voice balances hold nanoseconds
let n = 0;
const op = () => `op-${++n}`;
const data = (units: number, amountNano: number) => ({ unit: 'data' as const, units, amountNano });

async function account(
  store: BalanceStore,
  id: string,
  over: Partial<Parameters<BalanceStore['createAccount']>[0]> = {},
) {
  const r = await store.createAccount(
    { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id, ...over },
    op(),
  );
  expect(r.code).toBe('OK');
}

describe('balance store', () => {
  let store: BalanceStore;
  beforeEach(() => {
    store = createBalanceStore({ redis, keyPrefix: `${prefix}${n}:`, now: () => clock });
  });

  it('creates an account with subscriptions it can be found by, once', async () => {
    await account(store, 'a1', { subscriptions: [{ type: 'msisdn', value: '447700900001' }] });
    expect(await store.findAccountBySubscription('t', 'msisdn', '447700900001')).toBe('a1');
    expect(
      (
        await store.createAccount(
          { tenant: 't', id: 'a1', type: 'prepaid', currency: 'EUR', subject: 'x' },
          op(),
        )
      ).code,
    ).toBe('ACCOUNT_EXISTS');
    const taken = await store.createAccount(
      {
        tenant: 't',
        id: 'a2',
        type: 'prepaid',
        currency: 'EUR',
        subject: 'x',
        subscriptions: [{ type: 'msisdn', value: '447700900001' }],
      },
      op(),
    );
    expect(taken.code).toBe('SUBSCRIPTION_TAKEN');
    const v = await store.getAccount('t', 'a1');
    expect(v?.account).toMatchObject({ id: 'a1', type: 'prepaid', status: 'active', currency: 'EUR' });
  });

  it('finds many subscribers at once, an account in a shared group among them', async () => {
    await account(store, 'solo', { currency: 'GBP', subscriptions: [{ type: 'msisdn', value: '1001' }] });
    await account(store, 'kid', {
      subject: 'kids-plan',
      sharedGroup: 'family',
      subscriptions: [
        { type: 'msisdn', value: '2001' },
        { type: 'msisdn', value: '2002' },
      ],
    });
    const found = await store.subscribersOf('t', 'msisdn', ['2002', '9999', '1001', '2001']);
    expect(found).toEqual([
      { id: 'kid', subject: 'kids-plan', currency: 'EUR' },
      null,
      { id: 'solo', subject: 'solo', currency: 'GBP' },
      { id: 'kid', subject: 'kids-plan', currency: 'EUR' },
    ]);
    // The account's keys found here are the ones every operation uses (the group's tag).
    await store.addBalance('t', 'kid', { id: 'main', unit: 'money', value: 500 }, op());
    const d = await store.debit('t', 'kid', {
      opId: op(),
      charge: { unit: 'sms', units: 1, amountNano: 100 },
    });
    expect(d.code).toBe('OK');
    expect((await store.getAccount('t', 'kid'))!.balances[0]!.value).toBe(400);
  });

  it('credits, debits money exactly, and never overdraws a prepaid account', async () => {
    await account(store, 'p');
    expect((await store.addBalance('t', 'p', { id: 'main', unit: 'money', value: 0 }, op())).code).toBe('OK');
    const topup = await store.credit('t', 'p', { opId: op(), balanceId: 'main', amount: 1 * NANO });
    expect(topup.movements).toEqual([
      { balanceId: 'main', unit: 'money', delta: NANO, heldDelta: 0, valueAfter: NANO },
    ]);
    const d = await store.debit('t', 'p', {
      opId: op(),
      charge: { unit: 'voice', units: 60 * S, amountNano: 120_000_001 },
    });
    expect(d.code).toBe('OK');
    expect(d.movements[0]!.valueAfter).toBe(879_999_999);
    const tooMuch = await store.debit('t', 'p', {
      opId: op(),
      charge: { unit: 'voice', units: 60 * S, amountNano: NANO },
    });
    expect(tooMuch.code).toBe('INSUFFICIENT');
    expect((await store.getAccount('t', 'p'))!.balances[0]!.value).toBe(879_999_999);
  });

  it('lets postpaid money go down to minus the credit limit, not further', async () => {
    await account(store, 'pp', { type: 'postpaid', creditLimitNano: 5 * NANO });
    await store.addBalance('t', 'pp', { id: 'main', unit: 'money', value: 1 * NANO }, op());
    expect(
      (await store.debit('t', 'pp', { opId: op(), charge: { unit: 'sms', units: 1, amountNano: 6 * NANO } }))
        .code,
    ).toBe('OK');
    expect(
      (await store.debit('t', 'pp', { opId: op(), charge: { unit: 'sms', units: 1, amountNano: 1 } })).code,
    ).toBe('INSUFFICIENT');
    expect((await store.getAccount('t', 'pp'))!.balances[0]!.value).toBe(-5 * NANO);
  });

  it('uses matching unit balances first, by weight, then money pro rata', async () => {
    await account(store, 'b');
    await store.addBalance('t', 'b', { id: 'money', unit: 'money', value: 10 * NANO }, op());
    await store.addBalance(
      't',
      'b',
      { id: 'uk-minutes', unit: 'voice', value: 60 * S, weight: 20, destinations: ['UK'] },
      op(),
    );
    await store.addBalance('t', 'b', { id: 'any-minutes', unit: 'voice', value: 30 * S, weight: 10 }, op());
    await store.addBalance(
      't',
      'b',
      { id: 'expired', unit: 'voice', value: 999 * S, weight: 99, expiryMs: clock - 1 },
      op(),
    );
    // 120 s to UK at 0.12 for all 120 s: 60 s from uk-minutes, 30 s from any-minutes, 30 s paid 0.03.
    const uk = await store.debit('t', 'b', {
      opId: op(),
      charge: { unit: 'voice', units: 120 * S, amountNano: 120_000_000, destination: 'UK' },
    });
    expect(uk.movements.map((m) => [m.balanceId, m.delta])).toEqual([
      ['uk-minutes', -60 * S],
      ['any-minutes', -30 * S],
      ['money', -30_000_000],
    ]);
    // To France the UK bundle does not apply; nothing else is left but money.
    const fr = await store.debit('t', 'b', {
      opId: op(),
      charge: { unit: 'voice', units: 10 * S, amountNano: 7, destination: 'FR' },
    });
    expect(fr.movements.map((m) => [m.balanceId, m.delta])).toEqual([['money', -7]]);
  });

  it('replays return the first answer; a refused debit is not remembered; another request under the same id is refused', async () => {
    await account(store, 'r');
    await store.addBalance('t', 'r', { id: 'main', unit: 'money', value: 100 }, op());
    const first = await store.debit('t', 'r', {
      opId: 'x1',
      charge: { unit: 'sms', units: 1, amountNano: 60 },
    });
    const again = await store.debit('t', 'r', {
      opId: 'x1',
      charge: { unit: 'sms', units: 1, amountNano: 60 },
    });
    expect(again).toEqual({ ...first, replayed: true });
    expect(
      (await store.debit('t', 'r', { opId: 'x1', charge: { unit: 'sms', units: 1, amountNano: 61 } })).code,
    ).toBe('CONFLICT');
    const failed = await store.debit('t', 'r', {
      opId: 'x2',
      charge: { unit: 'sms', units: 1, amountNano: 60 },
    });
    expect(failed.code).toBe('INSUFFICIENT');
    await store.credit('t', 'r', { opId: op(), balanceId: 'main', amount: 1000 });
    expect(
      await store.debit('t', 'r', { opId: 'x2', charge: { unit: 'sms', units: 1, amountNano: 60 } }),
    ).toMatchObject({ code: 'OK', replayed: false }); // a refusal is not remembered: the retry pays
    expect((await store.getAccount('t', 'r'))!.balances[0]!.value).toBe(980);
  });

  it('reserves, settles part and releases the rest; available excludes holds', async () => {
    await account(store, 's');
    await store.addBalance('t', 's', { id: 'main', unit: 'money', value: 1000 }, op());
    const r = await runStep(store, 't', 's', op(), [
      { verb: 'reserve', reservationId: 'sess1:rg10', expiresMs: clock + 60_000, charge: data(100, 800) },
    ]);
    expect(r).toMatchObject({ status: 'APPLIED' });
    expect(firstResult(r)).toMatchObject({
      code: 'OK',
      moneyNano: 800,
      holds: [{ unit: 'money', amount: 800 }],
    });
    const more = await runStep(store, 't', 's', op(), [
      { verb: 'reserve', reservationId: 'sess2', expiresMs: clock + 60_000, charge: data(100, 300) },
    ]);
    expect(firstResult(more)).toMatchObject({ code: 'INSUFFICIENT', free: new Map([['a:main', 200]]) });
    const settled = await runStep(store, 't', 's', op(), [
      { verb: 'settle', reservationId: 'sess1:rg10', charge: data(25, 200) },
    ]);
    expect(firstResult(settled)).toMatchObject({ code: 'OK', moneyNano: 200 });
    const main = (await store.getAccount('t', 's'))!.balances[0]!;
    expect([main.value, main.held]).toEqual([800, 0]);
  });

  it('settles usage beyond the reservation, or without one, from the balances', async () => {
    await account(store, 'e');
    await store.addBalance('t', 'e', { id: 'main', unit: 'money', value: 1000 }, op());
    const sms = (amountNano: number) => ({ unit: 'sms' as const, units: 1, amountNano });
    await runStep(store, 't', 'e', op(), [
      { verb: 'reserve', reservationId: 'r1', expiresMs: clock + 60_000, charge: sms(100) },
    ]);
    // Twice what it holds: the reservation goes and the whole usage is debited.
    const over = await runStep(store, 't', 'e', op(), [
      { verb: 'settle', reservationId: 'r1', charge: sms(200) },
    ]);
    expect(firstResult(over)).toMatchObject({ code: 'OK', moneyNano: 200 });
    const gone = await runStep(store, 't', 'e', op(), [
      { verb: 'settle', reservationId: 'r1', charge: sms(50) },
    ]);
    expect(firstResult(gone)).toMatchObject({ code: 'OK', moneyNano: 50 });
    const view = (await store.getAccount('t', 'e'))!;
    expect([view.balances[0]!.value, view.balances[0]!.held, view.reservations]).toEqual([750, 0, []]);
  });

  it('settles usage partly covered by a bundle beyond what the reservation holds, priced once for the debit', async () => {
    await account(store, 'b');
    await store.addBalance('t', 'b', { id: 'main', unit: 'money', value: 1000 }, op());
    await store.addBalance('t', 'b', { id: 'mins', unit: 'voice', value: 30 }, op());
    const voice = (units: number, amountNano: number) => ({ unit: 'voice' as const, units, amountNano });
    await runStep(store, 't', 'b', op(), [
      { verb: 'reserve', reservationId: 'r', expiresMs: clock + 60_000, charge: voice(20, 100) },
    ]);
    // The reservation's 20 minutes cover 20 of 50 and it holds no money: the whole usage is debited,
    // the 30 minutes (its 20 given back) first, money for the other 20.
    const settled = await runStep(store, 't', 'b', op(), [
      { verb: 'settle', reservationId: 'r', charge: voice(50, 500) },
    ]);
    expect(settled).toMatchObject({
      status: 'APPLIED',
      results: [{ code: 'OK', moneyNano: 200, units: 30 }],
    });
  });

  it('releases on request, and refuses a second reservation under one id', async () => {
    await account(store, 'e2');
    await store.addBalance('t', 'e2', { id: 'main', unit: 'money', value: 1000 }, op());
    const sms = { unit: 'sms' as const, units: 1, amountNano: 100 };
    const reserve = (id: string) => ({
      verb: 'reserve' as const,
      reservationId: id,
      expiresMs: clock + 60_000,
      charge: sms,
    });
    await runStep(store, 't', 'e2', op(), [reserve('r1')]);
    expect(firstResult(await runStep(store, 't', 'e2', op(), [reserve('r1')])).code).toBe(
      'RESERVATION_EXISTS',
    );
    // Nor twice in one step: the first one's holds would be lost.
    const twice = await runStep(store, 't', 'e2', op(), [reserve('r2'), reserve('r2')]);
    expect(twice).toMatchObject({
      status: 'DEVIATED',
      results: [{ code: 'OK' }, { code: 'RESERVATION_EXISTS' }],
    });
    expect((await runStep(store, 't', 'e2', op(), [{ verb: 'release', reservationId: 'r1' }])).status).toBe(
      'APPLIED',
    );
    expect((await runStep(store, 't', 'e2', op(), [{ verb: 'release', reservationId: 'r1' }])).status).toBe(
      'APPLIED',
    );
    const view = (await store.getAccount('t', 'e2'))!;
    expect([view.balances[0]!.value, view.balances[0]!.held, view.reservations]).toEqual([1000, 0, []]);
  });

  it('expires stale reservations on read and at the next step', async () => {
    await account(store, 'x');
    await store.addBalance('t', 'x', { id: 'main', unit: 'money', value: 1000 }, op());
    const hold = (id: string) => ({
      verb: 'reserve' as const,
      reservationId: id,
      expiresMs: clock + 30_000,
      charge: { unit: 'sms' as const, units: 1, amountNano: 600 },
    });
    await runStep(store, 't', 'x', op(), [hold('old')]);
    clock += 31_000;
    expect(firstResult(await runStep(store, 't', 'x', op(), [hold('r2')])).code).toBe('OK'); // old gave back 600
    clock += 31_000;
    const view = (await store.getAccount('t', 'x'))!;
    expect([view.reservations, view.balances[0]!.held]).toEqual([[], 0]); // expired on read
  });

  it('refuses debits and reservations on a suspended account, but credits it', async () => {
    await account(store, 'sus');
    await store.addBalance('t', 'sus', { id: 'main', unit: 'money', value: 1000 }, op());
    expect((await store.updateAccount('t', 'sus', { status: 'suspended' }, op())).code).toBe('OK');
    expect(
      (await store.debit('t', 'sus', { opId: op(), charge: { unit: 'sms', units: 1, amountNano: 1 } })).code,
    ).toBe('ACCOUNT_INACTIVE');
    const reserve = await runStep(store, 't', 'sus', op(), [
      {
        verb: 'reserve',
        reservationId: 'q',
        expiresMs: clock + 5000,
        charge: { unit: 'sms', units: 1, amountNano: 1 },
      },
    ]);
    expect(firstResult(reserve).code).toBe('ACCOUNT_INACTIVE');
    expect((await store.credit('t', 'sus', { opId: op(), balanceId: 'main', amount: 5 })).code).toBe('OK');
    expect(
      (await store.debit('t', 'nobody', { opId: op(), charge: { unit: 'sms', units: 1, amountNano: 1 } }))
        .code,
    ).toBe('ACCOUNT_NOT_FOUND');
    expect((await store.credit('t', 'sus', { opId: op(), balanceId: 'nope', amount: 5 })).code).toBe(
      'BALANCE_NOT_FOUND',
    );
  });

  it('shares a group balance between its members', async () => {
    await account(store, 'dad', { sharedGroup: 'family' });
    await account(store, 'kid', { sharedGroup: 'family' });
    await store.addBalance('t', 'dad', { id: 'family-data', unit: 'data', value: 1000, shared: true }, op());
    await store.debit('t', 'kid', { opId: op(), charge: { unit: 'data', units: 400, amountNano: 0 } });
    await store.debit('t', 'dad', { opId: op(), charge: { unit: 'data', units: 500, amountNano: 0 } });
    const left = (await store.getAccount('t', 'kid'))!.balances.find((b) => b.id === 'family-data')!;
    expect([left.value, left.shared]).toEqual([100, true]);
    // The last byte is not covered and costs money the kid does not have.
    expect(
      (await store.debit('t', 'kid', { opId: op(), charge: { unit: 'data', units: 101, amountNano: 101 } }))
        .code,
    ).toBe('INSUFFICIENT');
  });

  it('loads its Redis functions again when the server has forgotten them (a restart without persistence)', async () => {
    await account(store, 'f');
    await store.addBalance('t', 'f', { id: 'main', unit: 'money', value: 100 }, op());
    await redis.call('FUNCTION', 'DELETE', libraryName());
    const r = await store.debit('t', 'f', { opId: op(), charge: { unit: 'sms', units: 1, amountNano: 30 } });
    expect(r.code).toBe('OK');
    expect((await store.getAccount('t', 'f'))!.balances[0]!.value).toBe(70);
  });

  it('refuses unsafe amounts before they reach Lua', async () => {
    await expect(store.credit('t', 'p', { opId: op(), balanceId: 'main', amount: 2 ** 53 })).rejects.toThrow(
      /safe integer/,
    );
    await expect(store.credit('t', 'p', { opId: op(), balanceId: 'main', amount: 0.5 })).rejects.toThrow(
      /safe integer/,
    );
  });
});

describe('provisioning codes', () => {
  const store = createBalanceStore({ redis, keyPrefix: `${prefix}admin:`, now: () => clock });

  it('adds subscriptions, refuses a taken one, and finds the account by each', async () => {
    await store.createAccount(
      { tenant: 't', id: 'sub1', type: 'prepaid', currency: 'EUR', subject: 's' },
      'c-sub1',
    );
    await store.createAccount(
      { tenant: 't', id: 'sub2', type: 'prepaid', currency: 'EUR', subject: 's' },
      'c-sub2',
    );
    expect(
      (await store.addSubscription('t', 'sub1', { type: 'imsi', value: '234150000000001' }, 's1')).code,
    ).toBe('OK');
    expect(
      (await store.addSubscription('t', 'sub2', { type: 'imsi', value: '234150000000001' }, 's2')).code,
    ).toBe('SUBSCRIPTION_TAKEN');
    expect((await store.addSubscription('t', 'ghost', { type: 'imsi', value: '1' }, 's3')).code).toBe(
      'ACCOUNT_NOT_FOUND',
    );
    expect(await store.findAccountBySubscription('t', 'imsi', '234150000000001')).toBe('sub1');
    expect((await store.getAccount('t', 'sub1'))!.account.subscriptions).toEqual([
      { type: 'imsi', value: '234150000000001' },
    ]);
  });

  it('adds, refuses to duplicate, and removes balances; a held balance stays', async () => {
    await store.createAccount(
      { tenant: 't', id: 'adm', type: 'prepaid', currency: 'EUR', subject: 's' },
      'c-adm',
    );
    expect((await store.addBalance('t', 'adm', { id: 'b', unit: 'money', value: 10 }, 'a1')).code).toBe('OK');
    expect((await store.addBalance('t', 'adm', { id: 'b', unit: 'money', value: 10 }, 'a2')).code).toBe(
      'BALANCE_EXISTS',
    );
    expect((await store.addBalance('t', 'nobody', { id: 'b', unit: 'money', value: 10 }, 'a3')).code).toBe(
      'ACCOUNT_NOT_FOUND',
    );
    await runStep(store, 't', 'adm', 'h1', [
      {
        verb: 'reserve',
        reservationId: 'h',
        expiresMs: clock + 60_000,
        charge: { unit: 'sms', units: 1, amountNano: 4 },
      },
    ]);
    expect((await store.removeBalance('t', 'adm', 'b', 'rm1')).code).toBe('RESERVATION_EXISTS');
    await runStep(store, 't', 'adm', 'h2', [{ verb: 'release', reservationId: 'h' }]);
    const removed = await store.removeBalance('t', 'adm', 'b', 'rm2');
    expect(removed.movements).toEqual([
      { balanceId: 'b', unit: 'money', delta: -10, heldDelta: 0, valueAfter: 0 },
    ]);
    expect((await store.removeBalance('t', 'adm', 'b', 'rm3')).code).toBe('BALANCE_NOT_FOUND');
  });

  it('frees a number an older version left claimed by an account that does not list it', async () => {
    const key = (v: string) => `${prefix}admin:{s:t:msisdn:${v}}`;
    await redis.set(key('447700900901'), 'ghost'); // a create refused after its claim
    await store.createAccount(
      {
        tenant: 't',
        id: 'heir',
        type: 'prepaid',
        currency: 'EUR',
        subject: 's',
        subscriptions: [{ type: 'msisdn', value: '447700900901' }],
      },
      'c-heir',
    );
    expect(await store.findAccountBySubscription('t', 'msisdn', '447700900901')).toBe('heir');
    await redis.set(key('447700900902'), 'heir'); // a subscribe refused after its claim
    expect(await store.subscribersOf('t', 'msisdn', ['447700900902'])).toEqual([null]);
    expect(
      (await store.addSubscription('t', 'sub1', { type: 'msisdn', value: '447700900902' }, 'take')).code,
    ).toBe('OK');
    expect(
      (await store.addSubscription('t', 'heir', { type: 'msisdn', value: '447700900902' }, 'back')).code,
    ).toBe('SUBSCRIPTION_TAKEN');
    expect((await store.getAccount('t', 'heir'))!.account.subscriptions).toEqual([
      { type: 'msisdn', value: '447700900901' },
    ]);
  });

  it('remembers no refusal: a corrected request under the same operation id is done', async () => {
    await store.createAccount(
      { tenant: 't', id: 'fix', type: 'prepaid', currency: 'EUR', subject: 's' },
      'c-fix',
    );
    await store.addBalance('t', 'fix', { id: 'b', unit: 'money', value: 10 }, 'fix-1');
    expect((await store.addBalance('t', 'fix', { id: 'b', unit: 'sms', value: 1 }, 'fix-2')).code).toBe(
      'BALANCE_EXISTS',
    );
    expect((await store.addBalance('t', 'fix', { id: 'c', unit: 'sms', value: 1 }, 'fix-2')).code).toBe('OK');
    expect((await store.credit('t', 'fix', { opId: 'fix-3', balanceId: 'x', amount: 5 })).code).toBe(
      'BALANCE_NOT_FOUND',
    );
    expect((await store.credit('t', 'fix', { opId: 'fix-3', balanceId: 'b', amount: 5 })).code).toBe('OK');
    expect((await store.removeBalance('t', 'fix', 'x', 'fix-4')).code).toBe('BALANCE_NOT_FOUND');
    expect((await store.removeBalance('t', 'fix', 'c', 'fix-4')).code).toBe('OK');
  });

  it('takes a number off a closed account, freeing it', async () => {
    await store.createAccount(
      {
        tenant: 't',
        id: 'shut',
        type: 'prepaid',
        currency: 'EUR',
        subject: 's',
        subscriptions: [{ type: 'msisdn', value: '447700900911' }],
      },
      'c-shut',
    );
    expect((await store.updateAccount('t', 'shut', { status: 'closed' }, 'shut-1')).code).toBe('OK');
    expect(
      (await store.removeSubscription('t', 'shut', { type: 'msisdn', value: '447700900911' }, 'shut-2')).code,
    ).toBe('OK');
    expect(await store.findAccountBySubscription('t', 'msisdn', '447700900911')).toBeNull();
  });

  it('keeps a closed account closed', async () => {
    await store.createAccount(
      { tenant: 't', id: 'gone', type: 'postpaid', currency: 'EUR', subject: 's', creditLimitNano: 5 },
      'c-gone',
    );
    expect((await store.updateAccount('t', 'gone', { status: 'closed' }, 'close')).code).toBe('OK');
    expect((await store.updateAccount('t', 'gone', { status: 'active' }, 'reopen')).code).toBe(
      'ACCOUNT_INACTIVE',
    );
    expect((await store.updateAccount('t', 'ghost', { status: 'active' }, 'x')).code).toBe(
      'ACCOUNT_NOT_FOUND',
    );
  });
});
