/**
 * Subscriptions on a Redis Cluster of 3 masters (started here), where a number's directory key and
 * its account live in different slots: refused and replayed requests leave every number listed
 * exactly where its key points, a claim cut short by a crash finds nobody and is freed by the next
 * claimer, and a listing that comes after its claim was freed is refused (the fence).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriptionKey } from '../../src/balances/keys.js';
import { runScript } from '../../src/balances/scripts.js';
import { createBalanceStore, type BalanceStore } from '../../src/balances/store.js';

const BASE = 7250 + (process.pid % 50) * 3;
const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-identity-'));
let cluster: Cluster;
let store: BalanceStore;
const ks = { prefix: 'id:' };

beforeAll(() => {
  execFileSync('bash', ['scripts/start-redis-cluster.sh', String(BASE), dir], { stdio: 'pipe' });
  cluster = new Cluster([{ host: '127.0.0.1', port: BASE }], { redisOptions: { maxRetriesPerRequest: 2 } });
  store = createBalanceStore({ redis: cluster, keyPrefix: ks.prefix });
}, 60_000);

afterAll(async () => {
  await cluster?.quit().catch(() => undefined);
  execFileSync('bash', ['scripts/stop-redis-cluster.sh', dir]);
  rmSync(dir, { recursive: true, force: true });
});

const msisdn = (value: string) => ({ type: 'msisdn', value });
const create = (id: string, numbers: string[], opId = `c-${id}`) =>
  store.createAccount(
    { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id, subscriptions: numbers.map(msisdn) },
    opId,
  );
const owner = (value: string) => cluster.get(subscriptionKey(ks, 't', 'msisdn', value));
const listed = async (id: string) =>
  (await store.getAccount('t', id))!.account.subscriptions.map((s) => s.value);

/** What a crashed engine leaves after step 1: the number claimed for `id`, never listed. */
async function claimOnly(id: string, value: string): Promise<number> {
  const key = subscriptionKey(ks, 't', 'msisdn', value);
  const out = (await runScript(
    cluster,
    'subscription-claim',
    [key, `${key}:v`],
    ['claim', '', 0, 0, id, 'claim', '', ''],
  )) as [number, string];
  return (JSON.parse(out[1]) as { version: number }).version;
}

describe('subscriptions on a Redis Cluster', () => {
  it('spreads the numbers and the accounts over different masters', async () => {
    const slots = new Set<number>();
    for (const k of [
      subscriptionKey(ks, 't', 'msisdn', '1'),
      'id:{a:t:x}:acct:x',
      subscriptionKey(ks, 't', 'msisdn', '2'),
    ])
      slots.add(Number(await cluster.call('CLUSTER', 'KEYSLOT', k)));
    expect(slots.size).toBeGreaterThan(1);
  });

  it('a create for an id that exists, or whose second number is taken, claims nothing', async () => {
    expect((await create('a1', ['100001'])).code).toBe('OK');
    expect((await create('a1', ['100002'], 'c-a1-again')).code).toBe('ACCOUNT_EXISTS');
    expect(await owner('100002')).toBeNull();
    expect((await create('a2', ['100003', '100001'])).code).toBe('SUBSCRIPTION_TAKEN');
    expect(await owner('100003')).toBeNull();
    expect(await owner('100001')).toBe('a1');
    expect(await listed('a1')).toEqual(['100001']);
  });

  it('subscribe, unsubscribe, subscribe again; replays keep key and listing together', async () => {
    await create('s1', []);
    expect((await store.addSubscription('t', 's1', msisdn('100011'), 'on-1')).code).toBe('OK');
    expect((await store.removeSubscription('t', 's1', msisdn('100011'), 'off-1')).code).toBe('OK');
    expect(await owner('100011')).toBeNull();
    expect(await store.addSubscription('t', 's1', msisdn('100011'), 'on-2')).toMatchObject({
      code: 'OK',
      replayed: false,
    });
    expect(await store.addSubscription('t', 's1', msisdn('100011'), 'on-1')).toMatchObject({
      code: 'OK',
      replayed: true,
    });
    expect([await owner('100011'), await listed('s1')]).toEqual(['s1', ['100011']]);
    expect((await store.removeSubscription('t', 's1', msisdn('100011'), 'off-2')).code).toBe('OK');
    // The first subscribe sent again: its first answer, and the number stays free.
    expect(await store.addSubscription('t', 's1', msisdn('100011'), 'on-1')).toMatchObject({
      code: 'OK',
      replayed: true,
    });
    expect([await owner('100011'), await listed('s1')]).toEqual([null, []]);
    expect((await create('s2', ['100011'])).code).toBe('OK');
  });

  it('subscribing a closed account is refused and leaves the number free', async () => {
    await create('closed', []);
    expect((await store.updateAccount('t', 'closed', { status: 'closed' }, 'close')).code).toBe('OK');
    expect((await store.addSubscription('t', 'closed', msisdn('100021'), 'on')).code).toBe(
      'ACCOUNT_INACTIVE',
    );
    expect(await owner('100021')).toBeNull();
    expect((await store.addSubscription('t', 'nobody', msisdn('100021'), 'on')).code).toBe(
      'ACCOUNT_NOT_FOUND',
    );
    expect(await owner('100021')).toBeNull();
  });

  it('a claim cut short finds nobody; the account retrying lists it, another account frees it', async () => {
    await create('crash1', []);
    await claimOnly('crash1', '100031');
    expect(await owner('100031')).toBe('crash1');
    expect(await store.subscribersOf('t', 'msisdn', ['100031'])).toEqual([null]);
    expect((await store.addSubscription('t', 'crash1', msisdn('100031'), 'retry')).code).toBe('OK');
    expect(await store.subscribersOf('t', 'msisdn', ['100031'])).toEqual([
      { id: 'crash1', subject: 'crash1', currency: 'EUR' },
    ]);

    await claimOnly('ghost', '100032'); // an account whose create never ran
    await create('crash2', []);
    expect((await store.addSubscription('t', 'crash2', msisdn('100032'), 'take')).code).toBe('OK');
    expect([await owner('100032'), await listed('crash2')]).toEqual(['crash2', ['100032']]);
    // A listed number is never taken.
    expect((await store.addSubscription('t', 'crash1', msisdn('100032'), 'steal')).code).toBe(
      'SUBSCRIPTION_TAKEN',
    );
  });

  it('a listing that comes after its claim was freed is refused by the fence', async () => {
    await create('slow', []);
    await create('fast', []);
    const version = await claimOnly('slow', '100041'); // slow's engine pauses after its claim
    expect((await store.addSubscription('t', 'fast', msisdn('100041'), 'fast-on')).code).toBe('OK');
    const k = await store.keysFor('t', 'slow');
    const op = k.op('slow-on');
    const late = (await runScript(
      cluster,
      'account-admin',
      [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, op, op, op, k.fence],
      ['slow-on', 'fp', 0, 60, 'slow', 'subscribe', 'account', '', 1, 'msisdn:100041', version],
    )) as [number, string];
    expect(JSON.parse(late[1])).toMatchObject({ code: 'SUBSCRIPTION_TAKEN' });
    expect([await owner('100041'), await listed('slow'), await listed('fast')]).toEqual([
      'fast',
      [],
      ['100041'],
    ]);
  });
});
