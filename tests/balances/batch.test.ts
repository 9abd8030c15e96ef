/**
 * CDR batches on the real Redis: money summed when that charges the same as one by one, one by one
 * (in order, bundles first, refusals per CDR) when not, and a batch given back exactly once.
 */
import { describe, expect, it } from 'vitest';
import { chargeBatch, forgetBatch, revertBatch } from '../../src/balances/batch.js';
import { cdrJournalKey, cdrOutboxKey, tagJournalKey } from '../../src/balances/keys.js';
import { runScript } from '../../src/balances/scripts.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0);
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
let n = 0;

async function account(money: number, type: 'prepaid' | 'postpaid' = 'prepaid', limit = 0) {
  const id = `b${++n}`;
  await store.createAccount(
    { tenant: 't', id, type, currency: 'EUR', subject: id, creditLimitNano: limit },
    `c${id}`,
  );
  await store.addBalance('t', id, { id: 'main', unit: 'money', value: money }, `m${id}`);
  return id;
}
const value = async (id: string, balance = 'main') =>
  (await store.getAccount('t', id))!.balances.find((b) => b.id === balance)!.value;

describe('CDR batch charging', () => {
  it('sums what an account can pay, sends back what it cannot pay as a whole', async () => {
    const [rich, poor, post] = [await account(1000), await account(100), await account(0, 'postpaid', 500)];
    const r = await chargeBatch(
      store,
      'batch-1',
      [
        { tenant: 't', accountId: rich, mode: 'sum', moneyNano: 300, units: ['voice', 'sms'] },
        { tenant: 't', accountId: poor, mode: 'sum', moneyNano: 300, units: ['voice'] },
        { tenant: 't', accountId: post, mode: 'sum', moneyNano: 400, units: ['sms'] },
        { tenant: 't', accountId: 'nobody', mode: 'sum', moneyNano: 1, units: ['sms'] },
      ],
      clock,
    );
    expect(r).toEqual([
      { code: 'OK', moneyNano: 300 },
      { code: 'EACH' },
      { code: 'OK', moneyNano: 400 },
      { code: 'ACCOUNT_NOT_FOUND' },
    ]);
    expect([await value(rich), await value(poor), await value(post)]).toEqual([700, 100, -400]);
  });

  it('charges hundreds of accounts one by one in one batch (more arguments than one call takes)', async () => {
    const ids = await Promise.all(Array.from({ length: 300 }, () => account(1000)));
    await Promise.all(
      ids.map((id) => store.addBalance('t', id, { id: 'sms', unit: 'sms', value: 50 }, `s${id}`)),
    );
    const sms = { unit: 'sms' as const, units: 1, amountNano: 3 };
    const results = await chargeBatch(
      store,
      'batch-wide',
      ids.map((accountId) => ({
        tenant: 't',
        accountId,
        mode: 'each' as const,
        charges: Array(100).fill(sms),
      })),
      clock,
    );
    // 50 messages from the bundle, 50 at 3 nano from money.
    const want = [...Array(50).fill(0), ...Array(50).fill(3)];
    expect(results.every((r) => r.code === 'OK' && 'each' in r && r.each.join() === want.join())).toBe(true);
    expect(await value(ids[299]!)).toBe(850);
  });

  it('refuses a call sent again (a resend after a reconnect) and changes nothing', async () => {
    const id = await account(1000);
    const k = await store.keysFor('t', id);
    // One slot on a Cluster: the account's own outbox and journal (src/balances/batch.ts).
    const journal = store.cluster ? tagJournalKey(store.keySpace, k.tag) : cdrJournalKey(store.keySpace, 't');
    const keys = [
      k.acct,
      k.bal,
      k.gbal,
      k.res,
      k.resx,
      store.cluster ? k.outbox : cdrOutboxKey(store.keySpace, 't'),
      journal,
      `${journal}:call:x`,
    ];
    const args = ['batch-r', 86_400, clock, 1, id, 'sum', 100, 'sms'];
    expect(await runScript(redis, 'cdr-charge', keys, args)).toEqual([['OK', 100]]);
    await expect(runScript(redis, 'cdr-charge', keys, args)).rejects.toThrow('CALL_REPEATED');
    expect(await value(id)).toBe(900);
  });

  it('draws only on bundles in force at the time of the call', async () => {
    const day = 86_400_000;
    const id = await account(1000);
    // The heavier bundle has expired; the other became active yesterday.
    await store.addBalance(
      't',
      id,
      { id: 'old', unit: 'voice', value: 60e9, weight: 20, expiryMs: clock - 3_600_000 },
      `o${id}`,
    );
    await store.addBalance(
      't',
      id,
      { id: 'new', unit: 'voice', value: 60e9, weight: 10, activationMs: clock - day },
      `w${id}`,
    );
    const call = { unit: 'voice' as const, units: 30e9, amountNano: 30 };
    const [r] = await chargeBatch(
      store,
      'batch-t',
      [{ tenant: 't', accountId: id, mode: 'each', charges: [call] }],
      clock,
    );
    expect(r).toEqual({ code: 'OK', each: [0] });
    expect([await value(id, 'new'), await value(id, 'old'), await value(id)]).toEqual([30e9, 60e9, 1000]);
    // With only the expired bundle left to match, money can pay the sum.
    const other = await account(1000);
    await store.addBalance(
      't',
      other,
      { id: 'old', unit: 'voice', value: 60e9, expiryMs: clock - 1 },
      `o${other}`,
    );
    const [sum] = await chargeBatch(
      store,
      'batch-t2',
      [{ tenant: 't', accountId: other, mode: 'sum', moneyNano: 30, units: ['voice'] }],
      clock,
    );
    expect(sum).toEqual({ code: 'OK', moneyNano: 30 });
  });

  it('charges one by one in order: bundles first, a refusal per CDR, and stops for a price', async () => {
    const id = await account(100);
    await store.addBalance('t', id, { id: 'mins', unit: 'voice', value: 90e9 }, `v${id}`);
    const call = (seconds: number, amountNano: number) => ({
      unit: 'voice' as const,
      units: seconds * 1e9,
      amountNano,
    });
    const charges = [call(60, 60), call(60, 60), call(10, 80), call(10, 50)];
    // The minutes pay the first call and half the second: its other half needs a price.
    const [first] = await chargeBatch(
      store,
      'batch-2',
      [{ tenant: 't', accountId: id, mode: 'each', charges }],
      clock,
    );
    expect(first).toEqual({ code: 'NEED_PRICE', index: 1, covered: 30e9, each: [0] }); // the first: minutes
    const rest = [{ ...charges[1]!, priced: { covered: 30e9, moneyNano: 30 } }, ...charges.slice(2)];
    const [second] = await chargeBatch(
      store,
      'batch-2',
      [{ tenant: 't', accountId: id, mode: 'each', charges: rest }],
      clock,
    );
    // 30 from money, the third cannot be paid (70 left, 80 asked), the fourth can.
    expect(second).toEqual({ code: 'OK', each: [30, 'INSUFFICIENT', 50] });
    expect([await value(id), await value(id, 'mins')]).toEqual([20, 0]);
    // Both calls are in the batch's journal: giving it back returns minutes and money.
    await revertBatch(store, 'batch-2', [{ tenant: 't', accountId: id }], clock);
    expect([await value(id), await value(id, 'mins')]).toEqual([100, 90e9]);
  });

  it('gives a batch back exactly once, and keeps a stored one', async () => {
    const [a, b] = [await account(1000), await account(1000)];
    const items = [a, b].map((accountId) => ({
      tenant: 't',
      accountId,
      mode: 'sum' as const,
      moneyNano: 250,
      units: ['sms'],
    }));
    await chargeBatch(store, 'batch-3', items, clock);
    await chargeBatch(store, 'batch-4', items, clock);
    expect(await revertBatch(store, 'batch-3', items, clock)).toBe(2);
    expect(await revertBatch(store, 'batch-3', items, clock)).toBe(0);
    await forgetBatch(store, 'batch-4', items);
    expect(await revertBatch(store, 'batch-4', items, clock)).toBe(0);
    expect([await value(a), await value(b)]).toEqual([750, 750]);
  });
});
