/**
 * Provisioning over HTTP on the real Redis: a refused request changes nothing (every key under the
 * test's prefix is dumped before and after), idempotency comes from the caller's reference, and
 * amounts, numbers and ids beyond what the engine holds are a 400 naming the field.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { testApp } from '../support/app.js';
import { isClusterBookkeeping } from '../support/redis-dump.js';
import { onCluster, scanKeys, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let store: BalanceStore;
const BILLING = { authorization: 'Bearer demo-billing' };
let n = 0;
const ref = () => `ref-${++n}`;

beforeAll(async () => {
  ({ app, balances: store } = await testApp({ redis, prefix }));
});
afterAll(() => app.close());

const call = (method: InjectOptions['method'], url: string, payload?: object) =>
  app.inject({ method, url, headers: BILLING, ...(payload ? { payload } : {}) });

const account = (id: string, msisdns: string[] = [], over: object = {}) =>
  call('POST', '/v1/accounts', {
    id,
    type: 'prepaid',
    currency: 'GBP',
    subject: id,
    subscriptions: msisdns.map((value) => ({ type: 'msisdn', value })),
    reference: ref(),
    ...over,
  });

/** Commands one by one (a Cluster's pipeline must stay on one node; auto-pipelining batches them). */
const each = (commands: string[][]) => Promise.all(commands.map(([c, ...args]) => redis.call(c!, ...args)));

/** Every key under the test's prefix with what it holds, read by its type (a DUMP of a hash is not stable: rehashing reorders it). */
async function dump(): Promise<Map<string, string>> {
  // Every master's on a Cluster, less its claim versions and fences (tests/support/redis-dump.ts).
  const keys = (await scanKeys(redis, `${prefix}*`)).filter((k) => !onCluster || !isClusterBookkeeping(k));
  const types = (await each(keys.map((k) => ['type', k]))) as string[];
  const reads = keys.map((k, i) => {
    const t = types[i];
    if (t === 'string') return ['get', k];
    if (t === 'hash') return ['hgetall', k];
    if (t === 'set') return ['smembers', k];
    if (t === 'zset') return ['zrange', k, '0', '-1', 'WITHSCORES'];
    if (t === 'stream') return ['xrange', k, '-', '+'];
    return ['lrange', k, '0', '-1'];
  });
  const values = await each(reads);
  const sorted = (v: unknown) =>
    Array.isArray(v) ? [...(v as string[])].sort() : Object.entries(v as object).sort();
  return new Map(
    keys.map((k, i) => [
      k,
      `${types[i]} ${JSON.stringify(['set', 'hash'].includes(types[i]!) ? sorted(values[i]) : values[i])}`,
    ]),
  );
}

/** Runs a request that must be refused with `status`, and checks that Redis did not change. */
async function refusedUnchanged(status: number, run: () => ReturnType<typeof call>) {
  const before = await dump();
  const r = await run();
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toContain('application/problem+json');
  expect(r.json().cause).toBeTypeOf('string');
  expect(await dump()).toEqual(before);
  return r;
}

const owner = (msisdn: string) => store.findAccountBySubscription('acme', 'msisdn', msisdn);
const listed = async (id: string) =>
  (await store.getAccount('acme', id))!.account.subscriptions.map((s) => s.value);

describe('a refused request changes nothing (issue 11 §3)', () => {
  it('a create for an id that exists is a 409 and claims none of its numbers', async () => {
    expect((await account('exists1', ['447700100001'])).statusCode).toBe(201);
    const r = await refusedUnchanged(409, () => account('exists1', ['447700100002']));
    expect(r.json()).toMatchObject({ cause: 'CONFLICT', result: 'ACCOUNT_EXISTS' });
    expect(await owner('447700100002')).toBeNull();
    // Charging the number finds nobody (it answered 500 when the number pointed at the account).
    const event = await app.inject({
      method: 'POST',
      url: '/v1/events/ev-exists1',
      headers: { authorization: 'Bearer demo-network' },
      payload: {
        requestedAction: 'DIRECT_DEBITING',
        eventTime: '2026-11-20T10:10:00Z',
        serviceContextId: '32274@3gpp.org',
        subscriptionIds: [{ type: 'E164', data: '447700100002' }],
        serviceInformation: { sms: { recipients: ['447911123456'] } },
        mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
      },
    });
    expect(event.statusCode).toBe(200);
    expect(event.json()).toMatchObject({ resultCode: 5030 });
    expect((await account('other1', ['447700100002'])).statusCode).toBe(201);
  });

  it('subscribe, unsubscribe, subscribe again: the number is on the account; a replay changes nothing', async () => {
    await account('sub1');
    const on = { type: 'msisdn', value: '447700100011', reference: 'on-1' };
    const first = await call('POST', '/v1/accounts/sub1/subscriptions', on);
    expect(first.json()).toMatchObject({ result: 'OK', replayed: false });
    const off = await call('DELETE', '/v1/accounts/sub1/subscriptions/msisdn/447700100011?reference=off-1');
    expect(off.json()).toMatchObject({ result: 'OK', replayed: false });
    expect(await owner('447700100011')).toBeNull();
    const again = await call('POST', '/v1/accounts/sub1/subscriptions', { ...on, reference: 'on-2' });
    expect(again.json()).toMatchObject({ result: 'OK', replayed: false });
    expect(await listed('sub1')).toEqual(['447700100011']);
    expect(await owner('447700100011')).toBe('sub1');

    // The first request sent again answers its first answer and changes nothing.
    const before = await dump();
    const replay = await call('POST', '/v1/accounts/sub1/subscriptions', on);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toMatchObject({ result: 'OK', replayed: true });
    expect(await dump()).toEqual(before);
  });

  it('subscribing a closed account is a 400 and leaves the number free', async () => {
    await account('closed1');
    const close = await call('PATCH', '/v1/accounts/closed1', { status: 'closed', reference: ref() });
    expect(close.statusCode).toBe(200);
    const r = await refusedUnchanged(400, () =>
      call('POST', '/v1/accounts/closed1/subscriptions', {
        type: 'msisdn',
        value: '447700100021',
        reference: ref(),
      }),
    );
    expect(r.json()).toMatchObject({ cause: 'INVALID_REQUEST', result: 'ACCOUNT_INACTIVE' });
    expect(await owner('447700100021')).toBeNull();
    expect((await account('open1', ['447700100021'])).statusCode).toBe(201);
  });

  it('a create refused because its second number is taken claims neither', async () => {
    await account('holder1', ['447700100032']);
    const r = await refusedUnchanged(409, () => account('new1', ['447700100031', '447700100032']));
    expect(r.json()).toMatchObject({
      result: 'SUBSCRIPTION_TAKEN',
      detail: 'SUBSCRIPTION_TAKEN: msisdn:447700100032',
    });
    expect(await owner('447700100031')).toBeNull();
    expect((await call('GET', '/v1/accounts/new1')).statusCode).toBe(404);
    expect((await account('new2', ['447700100031'])).statusCode).toBe(201);
  });

  it('a balance removed is not brought back by a replay, and a write without a reference is refused', async () => {
    await account('bal1');
    const add = { id: 'bonus', unit: 'money', value: '2.50', reference: 'add-bonus' };
    expect((await call('POST', '/v1/accounts/bal1/balances', add)).statusCode).toBe(201);
    const removed = await call('DELETE', '/v1/accounts/bal1/balances/bonus?reference=rm-bonus');
    expect(removed.json()).toMatchObject({ result: 'OK', movements: [{ delta: '-2.5', valueAfter: '0' }] });
    const { reference: _, ...noReference } = add;
    const r = await refusedUnchanged(400, () => call('POST', '/v1/accounts/bal1/balances', noReference));
    expect(r.json().cause).toBe('INVALID_REQUEST');
    expect(JSON.stringify(r.json())).toContain('reference');
    const readd = await call('POST', '/v1/accounts/bal1/balances', { ...add, reference: 'add-bonus-2' });
    expect(readd.statusCode).toBe(201);
    expect(readd.json()).toMatchObject({ replayed: false, movements: [{ valueAfter: '2.5' }] });
    expect((await store.getAccount('acme', 'bal1'))!.balances.map((b) => b.id)).toEqual(['bonus']);
  });
});

describe('numbers an older version left claimed', () => {
  it('find nobody when charged, and can be given to an account', async () => {
    await account('left1');
    await redis.set(`${prefix}{s:acme:msisdn:447700100071}`, 'left1'); // left by a refused subscribe
    const event = await app.inject({
      method: 'POST',
      url: '/v1/events/ev-left1',
      headers: { authorization: 'Bearer demo-network' },
      payload: {
        requestedAction: 'DIRECT_DEBITING',
        eventTime: '2026-11-20T10:10:00Z',
        serviceContextId: '32274@3gpp.org',
        subscriptionIds: [{ type: 'E164', data: '447700100071' }],
        serviceInformation: { sms: { recipients: ['447911123456'] } },
        mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
      },
    });
    expect(event.json()).toMatchObject({ resultCode: 5030 });
    expect((await account('left2', ['447700100071'])).statusCode).toBe(201);
    expect(await owner('447700100071')).toBe('left2');
  });
});

describe('references', () => {
  it.each([
    ['POST', '/v1/accounts', { id: 'noref', type: 'prepaid', currency: 'GBP', subject: 's' }],
    ['PATCH', '/v1/accounts/ref1', { status: 'suspended' }],
    ['POST', '/v1/accounts/ref1/subscriptions', { type: 'msisdn', value: '447700100041' }],
    ['DELETE', '/v1/accounts/ref1/subscriptions/msisdn/447700100041', undefined],
    ['POST', '/v1/accounts/ref1/balances', { id: 'x', unit: 'sms', value: 1 }],
    ['PATCH', '/v1/accounts/ref1/balances/main', { weight: 1 }],
    ['DELETE', '/v1/accounts/ref1/balances/main', undefined],
    ['POST', '/v1/accounts/ref1/credits', { balanceId: 'main', amount: '1' }],
    ['POST', '/v1/accounts/ref1/debits', { amount: '1' }],
  ] as const)('%s %s without a reference is a 400 and changes nothing', async (method, url, body) => {
    if ((await call('GET', '/v1/accounts/ref1')).statusCode === 404) {
      await account('ref1');
      await call('POST', '/v1/accounts/ref1/balances', {
        id: 'main',
        unit: 'money',
        value: '1',
        reference: ref(),
      });
    }
    const r = await refusedUnchanged(400, () => call(method, url, body));
    expect(r.json()).toMatchObject({ cause: 'INVALID_REQUEST' });
  });

  it('same reference and body: the first answer; another body: 409; nothing moves twice', async () => {
    await account('rep1');
    const add = { id: 'main', unit: 'money', value: '1', reference: 'rep-main' };
    const first = await call('POST', '/v1/accounts/rep1/balances', add);
    const again = await call('POST', '/v1/accounts/rep1/balances', add);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual({ ...first.json(), replayed: true });
    const conflict = await refusedUnchanged(409, () =>
      call('POST', '/v1/accounts/rep1/balances', { ...add, value: '2' }),
    );
    expect(conflict.json().cause).toBe('CONFLICT');
    // Another kind of write under the same reference is another request too.
    await refusedUnchanged(409, () =>
      call('POST', '/v1/accounts/rep1/subscriptions', {
        type: 'msisdn',
        value: '447700100051',
        reference: 'rep-main',
      }),
    );
    expect(await owner('447700100051')).toBeNull();
    expect((await store.getAccount('acme', 'rep1'))!.balances[0]!.value).toBe(1_000_000_000);
  });

  it('a refused request is not remembered: a corrected retry under its reference works', async () => {
    await account('fix1');
    await account('fix-holder', ['447700100061']);
    const taken = await refusedUnchanged(409, () =>
      account('fix2', ['447700100061'], { reference: 'crm-fix2' }),
    );
    expect(taken.json().result).toBe('SUBSCRIPTION_TAKEN');
    const fixed = await account('fix2', ['447700100062'], { reference: 'crm-fix2' });
    expect(fixed.statusCode).toBe(201);
    expect(fixed.json()).toMatchObject({
      id: 'fix2',
      subscriptions: [{ type: 'msisdn', value: '447700100062' }],
    });

    await call('POST', '/v1/accounts/fix1/balances', {
      id: 'main',
      unit: 'money',
      value: '1',
      reference: ref(),
    });
    await refusedUnchanged(400, () =>
      call('POST', '/v1/accounts/fix1/balances', { id: 'main', unit: 'sms', value: 5, reference: 'crm-sms' }),
    );
    const ok = await call('POST', '/v1/accounts/fix1/balances', {
      id: 'sms',
      unit: 'sms',
      value: 5,
      reference: 'crm-sms',
    });
    expect(ok.json()).toMatchObject({ result: 'OK', replayed: false });
    await refusedUnchanged(400, () =>
      call('POST', '/v1/accounts/fix1/credits', { balanceId: 'nope', amount: '1', reference: 'crm-top' }),
    );
    const top = await call('POST', '/v1/accounts/fix1/credits', {
      balanceId: 'main',
      amount: '1',
      reference: 'crm-top',
    });
    expect(top.json()).toMatchObject({ result: 'OK', movements: [{ valueAfter: '2' }] });
    await refusedUnchanged(404, () => call('DELETE', '/v1/accounts/fix1/balances/nope?reference=crm-rm'));
    expect((await call('DELETE', '/v1/accounts/fix1/balances/sms?reference=crm-rm')).json()).toMatchObject({
      result: 'OK',
    });
  });
});

describe('strict schemas: never a 500', () => {
  const big = '99999999999999999999999999999.99';
  it.each([
    [
      'a huge money balance',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'money', value: big },
      'value',
    ],
    [
      'money just past the largest',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'money', value: '9007199.254740992' },
      'value',
    ],
    [
      'voice seconds of 1e308',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'voice', value: 1e308 },
      'value',
    ],
    [
      'data of 2^53',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'data', value: 2 ** 53 },
      'value',
    ],
    [
      'a weight of 1e308',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'sms', value: 1, weight: 1e308 },
      'weight',
    ],
    [
      'a rating group of 2^32',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'b', unit: 'sms', value: 1, ratingGroups: [4294967296] },
      'ratingGroups',
    ],
    [
      'a rating group of 1e308',
      'PATCH',
      '/v1/accounts/strict1/balances/main',
      { ratingGroups: [1e308] },
      'ratingGroups',
    ],
    [
      'a huge credit limit',
      'POST',
      '/v1/accounts',
      { id: 'strict2', type: 'postpaid', currency: 'GBP', subject: 's', creditLimit: '99999999999999999999' },
      'creditLimit',
    ],
    [
      'a huge credit limit change',
      'PATCH',
      '/v1/accounts/strict1',
      { creditLimit: '99999999999999999999' },
      'creditLimit',
    ],
    ['a huge top-up', 'POST', '/v1/accounts/strict1/credits', { balanceId: 'main', amount: big }, 'amount'],
    [
      'a top-up of 1e308',
      'POST',
      '/v1/accounts/strict1/credits',
      { balanceId: 'main', amount: 1e308 },
      'amount',
    ],
    ['a huge debit', 'POST', '/v1/accounts/strict1/debits', { amount: big }, 'amount'],
    [
      'an id with a space',
      'POST',
      '/v1/accounts',
      { id: '1 000', type: 'prepaid', currency: 'GBP', subject: 's' },
      'id',
    ],
    [
      'an id with braces',
      'POST',
      '/v1/accounts',
      { id: '{{7*7}}', type: 'prepaid', currency: 'GBP', subject: 's' },
      'id',
    ],
    [
      'an id with a quote',
      'POST',
      '/v1/accounts',
      { id: 'a"b', type: 'prepaid', currency: 'GBP', subject: 's' },
      'id',
    ],
    [
      'a group with braces',
      'POST',
      '/v1/accounts',
      { id: 'g1', type: 'prepaid', currency: 'GBP', subject: 's', sharedGroup: '{x}' },
      'sharedGroup',
    ],
    [
      'a subscription with a space',
      'POST',
      '/v1/accounts/strict1/subscriptions',
      { type: 'msisdn', value: '1 000' },
      'value',
    ],
    [
      'a subscription with braces',
      'POST',
      '/v1/accounts/strict1/subscriptions',
      { type: 'msisdn', value: '{{7*7}}' },
      'value',
    ],
    [
      'a subscription path with a space',
      'DELETE',
      '/v1/accounts/strict1/subscriptions/msisdn/1%20000',
      undefined,
      'value',
    ],
    ['an account path with braces', 'GET', '/v1/accounts/%7B%7B7*7%7D%7D', undefined, 'accountId'],
    [
      'a balance id with a quote',
      'POST',
      '/v1/accounts/strict1/balances',
      { id: 'a"b', unit: 'sms', value: 1 },
      'id',
    ],
  ] as const)('%s is a 400 naming the field', async (_name, method, url, body, field) => {
    if ((await call('GET', '/v1/accounts/strict1')).statusCode === 404) {
      await account('strict1', [], { type: 'postpaid' });
      await call('POST', '/v1/accounts/strict1/balances', {
        id: 'main',
        unit: 'money',
        value: '1',
        reference: ref(),
      });
    }
    const withRef = body ? { ...body, reference: ref() } : undefined;
    const target = body ? url : `${url}${url.includes('?') ? '&' : '?'}reference=${ref()}`;
    const r = await refusedUnchanged(400, () => call(method, target, withRef));
    expect(r.json().cause).toBe('INVALID_REQUEST');
    expect(JSON.stringify(r.json())).toContain(field);
    if (['value', 'amount', 'creditLimit'].includes(field) && !String(url).includes('subscriptions'))
      expect(r.json().detail).toMatch(/9007199\.?254740991/);
  });
});

describe('malformed provisioning requests', () => {
  it('answer 4xx problem+json, never 500, and a refused one changes nothing', async () => {
    await account('fuzz1', ['447700100099']);
    await call('POST', '/v1/accounts/fuzz1/balances', {
      id: 'main',
      unit: 'money',
      value: '1',
      reference: ref(),
    });
    const weird = fc.oneof(
      fc.constantFrom(
        '1 000',
        '{{7*7}}',
        'a"b',
        '',
        '9'.repeat(400),
        '99999999999999999999999999999.99',
        '-1',
        '1e308',
        'x',
      ),
      fc.constantFrom(1e308, -1, 4294967296, 2 ** 53, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, null, true, [], {}),
      fc.string({ maxLength: 20 }),
      fc.double(),
    );
    const field = fc.constantFrom(
      'id',
      'type',
      'currency',
      'subject',
      'creditLimit',
      'sharedGroup',
      'subscriptions',
      'unit',
      'value',
      'weight',
      'activation',
      'expiry',
      'ratingGroups',
      'destinations',
      'balanceId',
      'amount',
      'kind',
      'status',
    );
    const routes = [
      ['POST', '/v1/accounts', { id: 'fz', type: 'prepaid', currency: 'GBP', subject: 's' }],
      ['PATCH', '/v1/accounts/fuzz1', { status: 'active' }],
      ['POST', '/v1/accounts/fuzz1/subscriptions', { type: 'msisdn', value: '447700100098' }],
      ['POST', '/v1/accounts/fuzz1/balances', { id: 'fz', unit: 'data', value: 1 }],
      ['PATCH', '/v1/accounts/fuzz1/balances/main', { weight: 1 }],
      ['POST', '/v1/accounts/fuzz1/credits', { balanceId: 'main', amount: '1' }],
      ['POST', '/v1/accounts/fuzz1/debits', { amount: '1' }],
    ] as const;
    const route = fc.constantFrom(...routes);
    await fc.assert(
      fc.asyncProperty(route, field, weird, async ([method, url, body], f, v) => {
        const before = await dump();
        const r = await call(method, url, { ...body, [f]: v, reference: ref() });
        if (r.statusCode >= 500) throw new Error(`${method} ${url} ${f}=${JSON.stringify(v)}: ${r.body}`);
        if (r.statusCode >= 400) {
          expect(r.headers['content-type']).toContain('application/problem+json');
          const after = await dump();
          const diff = [...new Set([...before.keys(), ...after.keys()])].filter(
            (k) => before.get(k) !== after.get(k),
          );
          if (diff.length)
            throw new Error(
              `${method} ${url} ${f}=${JSON.stringify(v)} ${r.statusCode} ${r.body}: ${diff.join(' ')}`,
            );
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
