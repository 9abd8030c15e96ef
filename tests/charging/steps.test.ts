/**
 * Charging steps on the real Redis and PostgreSQL: an engine's remembered view (a session, a
 * subscriber) is checked by each step and refused when stale, so several engines and billing staff
 * can change the same accounts and every charge stays exact; a silent session is closed by the
 * sweep with its usage recorded, and a late report after that is still charged.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dueSessionsKey, sessionIndexKey } from '../../src/balances/keys.js';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { createDirectory } from '../../src/charging/directory.js';
import { chargeEvent } from '../../src/charging/events.js';
import { createSessions } from '../../src/charging/sessions.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { openActiveTariff, type ActiveTariff } from '../../src/tariffs/active.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let clock = Date.UTC(2026, 10, 20, 10, 0, 0); // a Friday, peak
const now = () => clock;
const store = createBalanceStore({ redis, keyPrefix: prefix, now });
let tariff: ActiveTariff;
let accounts = 0;

beforeAll(async () => {
  tariff = await openActiveTariff('tariffs/sample');
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
});

/** An engine: its own caches (sessions, subscribers) on the shared Redis. */
function engine() {
  const directory = createDirectory(store);
  return {
    directory,
    sessions: createSessions({ balances: store, directory, tariff: () => tariff.current(), now }),
  };
}

async function customer(moneyNano: number) {
  const id = `c${++accounts}`;
  const msisdn = `4477009${String(accounts).padStart(5, '0')}`;
  await store.createAccount(
    {
      tenant: 'acme',
      id,
      type: 'prepaid',
      currency: 'GBP',
      subject: id,
      subscriptions: [{ type: 'msisdn', value: msisdn }],
    },
    `create-${id}`,
  );
  await store.addBalance('acme', id, { id: 'main', unit: 'money', value: moneyNano }, `main-${id}`);
  const money = async () => (await store.getAccount('acme', id))!.balances.find((b) => b.id === 'main')!;
  return { id, msisdn, money };
}

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, 0) + s * 1000).toISOString();
const voiceInit = (msisdn: string, time = 60) => ({
  requestNumber: 0,
  eventTime: at(0),
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
  mscc: [{ ratingGroup: 100, requested: { time } }],
});
const update = (n: number, usedSeconds: number, requested = 60) => ({
  requestNumber: n,
  eventTime: at(10 * n),
  mscc: [{ ratingGroup: 100, requested: { time: requested }, used: [{ time: usedSeconds }] }],
});

describe('engines sharing sessions', () => {
  it('plans each step on the current session, however many engines took part, and charges exactly', async () => {
    const c = await customer(1_000_000_000);
    const [a, b] = [engine(), engine()];
    const sid = 'shared;1';
    expect((await a.sessions.handle('acme', sid, 'initiate', voiceInit(c.msisdn))).answer.resultCode).toBe(
      2001,
    );
    // B has never seen the session; A's view is stale after B's step.
    expect((await b.sessions.handle('acme', sid, 'update', update(1, 20))).answer.resultCode).toBe(2001);
    expect((await a.sessions.handle('acme', sid, 'update', update(2, 20))).answer.resultCode).toBe(2001);
    const t = await b.sessions.handle('acme', sid, 'terminate', {
      requestNumber: 3,
      eventTime: at(50),
      mscc: [{ ratingGroup: 100, used: [{ time: 7 }] }],
    });
    // 47 s at 15p/min with a 5p connect fee, priced once: 0.05 + 47 x 0.0025 = 0.1675.
    expect(t.answer.costInformation).toEqual({ amount: '0.1675', currency: 'GBP' });
    expect(await c.money()).toMatchObject({ value: 1_000_000_000 - 167_500_000, held: 0 });
  });

  it('refuses a plan the balances no longer back, and plans again with what they afford', async () => {
    const c = await customer(1_000_000_000);
    const { sessions } = engine();
    await sessions.handle('acme', 'drained', 'initiate', voiceInit(c.msisdn));
    // Billing staff take money away while the call goes on: 0.9 of the 1.0, 0.2 of it held.
    await store.debit('acme', c.id, {
      opId: 'staff-1',
      kind: 'adjust',
      charge: { unit: 'generic', units: 0, amountNano: 700_000_000 },
    });
    const u = await sessions.handle('acme', 'drained', 'update', update(1, 60, 300));
    // Settled 60 s (0.2 from the hold); 0.1 left affords 40 s more, granted as the final units.
    expect(u.answer.mscc[0]).toMatchObject({
      resultCode: 2001,
      granted: { time: 40 },
      finalUnitIndication: { finalUnitAction: 'TERMINATE' },
    });
    const m = await c.money();
    expect(m.value - m.held).toBe(0);
    expect(m.value).toBeGreaterThanOrEqual(0);
  });
});

describe('a long session', () => {
  it('keeps the index that finds its account as long as the session lives', async () => {
    const c = await customer(1_000_000_000);
    const { sessions } = engine();
    await sessions.handle('acme', 'long', 'initiate', voiceInit(c.msisdn));
    const index = sessionIndexKey(store.keySpace, 'acme', 'long');
    await redis.expire(index, 5); // as if the session had gone on for a day
    await sessions.handle('acme', 'long', 'update', update(1, 20));
    expect(await redis.ttl(index)).toBeGreaterThan(3600);
  });
});

describe('usage beyond the reservation', () => {
  it('is charged from the whole balance, the reservation it outgrew counted as free', async () => {
    const c = await customer(300_000_000); // 0.30
    const { sessions } = engine();
    // 60 s hold 0.05 + 0.15 = 0.20, leaving 0.10 free.
    await sessions.handle('acme', 'over', 'initiate', voiceInit(c.msisdn));
    expect(await c.money()).toMatchObject({ value: 300_000_000, held: 200_000_000 });
    // 90 s used: 0.05 + 90 x 0.0025 = 0.275, more than the hold, less than the balance.
    const u = await sessions.handle('acme', 'over', 'update', update(1, 90));
    const m = await c.money();
    expect(m.value).toBe(25_000_000);
    // What is left cannot be overdrawn: the next quota is at most what it affords.
    expect(m.value - m.held).toBeGreaterThanOrEqual(0);
    expect([2001, 4012]).toContain(u.answer.mscc[0]!.resultCode);
  });
});

describe('remembered subscribers', () => {
  it('charges the new owner of a subscription that moved, not the account the engine remembered', async () => {
    const [from, to] = [await customer(1_000_000_000), await customer(1_000_000_000)];
    const { directory } = engine();
    const sms = (id: string) =>
      chargeEvent(
        { tariff: () => tariff.current(), balances: store, directory },
        'acme',
        id,
        {
          requestedAction: 'DIRECT_DEBITING',
          eventTime: at(0),
          serviceContextId: '32274@3gpp.org',
          subscriptionIds: [{ type: 'E164', data: from.msisdn }],
          serviceInformation: { sms: { recipients: ['447911123456'] } },
          mscc: [{ ratingGroup: 300 }],
        },
        clock,
      );
    expect((await sms('sms-a')).answer.resultCode).toBe(2001);
    const sub = { type: 'msisdn', value: from.msisdn };
    await store.removeSubscription('acme', from.id, sub, 'move-out');
    await store.addSubscription('acme', to.id, sub, 'move-in');
    expect((await sms('sms-b')).answer.resultCode).toBe(2001);
    expect((await from.money()).value).toBe(1_000_000_000 - 40_000_000);
    expect((await to.money()).value).toBe(1_000_000_000 - 40_000_000);
  });
});

describe('silent sessions', () => {
  it('are not closed by a sweep that saw an old state of a session another engine renewed', async () => {
    const c = await customer(1_000_000_000);
    const [a, b] = [engine(), engine()];
    await a.sessions.handle('acme', 'renewed', 'initiate', voiceInit(c.msisdn));
    const start = clock;
    clock += 500_000;
    await b.sessions.handle('acme', 'renewed', 'update', update(1, 30)); // due at +1100 s now
    clock += 200_000; // past what A remembers (+600 s)
    // A's sweep read the hint before B renewed it.
    await redis.zadd(dueSessionsKey(store.keySpace), start, 'acme\u0000renewed');
    await a.sessions.sweep();
    expect((await b.sessions.get('acme', 'renewed'))?.state).toBe('open');
    expect(await redis.zscore(dueSessionsKey(store.keySpace), 'acme\u0000renewed')).toBe(
      String(start + 1_100_000),
    );
    clock = start;
  });

  it('are closed by the sweep with their usage recorded; a late report is still charged and recorded', async () => {
    const c = await customer(1_000_000_000);
    const { sessions } = engine();
    await sessions.handle('acme', 'quiet', 'initiate', voiceInit(c.msisdn));
    await sessions.handle('acme', 'quiet', 'update', update(1, 30));
    clock += 601_000; // past Tcc (2 x 300 s)
    expect(await sessions.sweep()).toBeGreaterThanOrEqual(1); // this one, and others of this file left open
    expect((await sessions.get('acme', 'quiet'))?.state).toBe('closed');
    expect(await sessions.sweep()).toBe(0); // each closed once
    expect(await c.money()).toMatchObject({ value: 1_000_000_000 - 125_000_000, held: 0 }); // 0.05 + 30 s
    await drainOutboxes({ redis, pool, schema, keyPrefix: prefix });
    const record = async () =>
      (
        await pool.query(
          `SELECT usage::int, cost_nano::bigint::text AS cost, close_cause FROM ${schema}.rated_records WHERE record_id = 'session:quiet:100'`,
        )
      ).rows[0];
    expect(await record()).toEqual({ usage: 30, cost: '125000000', close_cause: 'TCC_EXPIRED' });

    const late = await sessions.handle('acme', 'quiet', 'terminate', {
      requestNumber: 2,
      eventTime: at(40),
      mscc: [{ ratingGroup: 100, used: [{ time: 10 }] }],
    });
    expect(late.answer.resultCode).toBe(2001);
    expect((await c.money()).value).toBe(1_000_000_000 - 150_000_000); // 0.05 + 40 s
    await drainOutboxes({ redis, pool, schema, keyPrefix: prefix });
    expect(await record()).toMatchObject({ usage: 40, cost: '150000000' });
    clock -= 601_000;
  });
});
