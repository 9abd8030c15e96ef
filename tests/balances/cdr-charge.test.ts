/**
 * cdr-charge checks every account of a call before it writes: a call that fails halfway moves no
 * balance, and accounts of one shared group in one call plan against what the earlier ones take.
 */
import { describe, expect, it } from 'vitest';
import { chargeBatch } from '../../src/balances/batch.js';
import { cdrJournalKey, cdrOutboxKey } from '../../src/balances/keys.js';
import { runScript } from '../../src/balances/scripts.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const clock = Date.UTC(2026, 10, 20, 10, 0, 0);
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });

async function account(id: string, money: number | null, sharedGroup?: string) {
  await store.createAccount(
    { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id, sharedGroup },
    `c-${id}`,
  );
  if (money !== null) await store.addBalance('t', id, { id: 'main', unit: 'money', value: money }, `m-${id}`);
}
const balances = async (id: string) =>
  (await store.getAccount('t', id))!.balances.map((b) => [b.id, b.value]);

describe('cdr-charge', () => {
  it('moves nothing when a later account of the call cannot be read', async () => {
    await account('first', 1000);
    await account('second', 1000);
    const keys = async (id: string) => {
      const k = await store.keysFor('t', id);
      return [k.acct, k.bal, k.gbal, k.res, k.resx];
    };
    const journal = cdrJournalKey(store.keySpace, 't');
    const outbox = cdrOutboxKey(store.keySpace, 't');
    const call = runScript(
      redis,
      'cdr-charge',
      [...(await keys('first')), ...(await keys('second')), outbox, journal, `${journal}:call:bad`],
      // The second account's charge has units Lua cannot read as a number: the script errors there.
      [
        'bad',
        60,
        clock,
        2,
        'first',
        'sum',
        300,
        'sms',
        'second',
        'each',
        1,
        'sms',
        'x',
        5,
        '',
        '',
        '',
        '',
        '',
      ],
    );
    await expect(call).rejects.toThrow();
    expect(await balances('first')).toEqual([['main', 1000]]);
    expect(await redis.hgetall(journal)).toEqual({});
    expect(await redis.xlen(outbox)).toBe(0);
  });

  it('charges members of a shared group in one call against what the earlier ones took', async () => {
    await account('mum', null, 'fam');
    await account('kid', null, 'fam');
    await store.addBalance(
      't',
      'mum',
      { id: 'family', unit: 'money', value: 500, shared: true },
      'fam-money',
    );
    const r = await chargeBatch(
      store,
      'fam-batch',
      [
        { tenant: 't', accountId: 'mum', mode: 'sum', moneyNano: 300, units: ['sms'] },
        { tenant: 't', accountId: 'kid', mode: 'sum', moneyNano: 300, units: ['sms'] },
        {
          tenant: 't',
          accountId: 'kid',
          mode: 'each',
          charges: [
            { unit: 'sms', units: 1, amountNano: 150 },
            { unit: 'sms', units: 1, amountNano: 100 },
          ],
        },
      ],
      clock,
    );
    expect(r).toEqual([
      { code: 'OK', moneyNano: 300 },
      { code: 'EACH' },
      { code: 'OK', each: [150, 'INSUFFICIENT'] },
    ]);
    expect(await balances('kid')).toEqual([['family', 50]]);
  });
});
