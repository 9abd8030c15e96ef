/**
 * bundle-renew (src/balances/lua/bundle-renew.lua) on the real Redis: its checks in order, reset and
 * rollover (E.6 #3: a data session proves the rollover is consumed first, held units stay held, the
 * ledger's `expire` equals what was dropped, a replay changes nothing), and a model test of random
 * usage and renewals against a tiny reference.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BundleGrant } from '../../../src/balances/bundles.js';
import { createBalanceStore } from '../../../src/balances/store.js';
import { firstResult, runStep } from '../../balances/step-helpers.js';
import { dumpKeys } from '../../support/redis-dump.js';
import { testRedis } from '../../support/redis.js';
import { GiB, MiB, outboxMoves } from './support.js';

const { redis, prefix } = testRedis();
let clock = Date.UTC(2026, 10, 1);
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => clock });
const DAY = 86_400_000;
const P0 = Date.UTC(2026, 10, 1);
const P1 = Date.UTC(2026, 11, 1);
const P2 = Date.UTC(2027, 0, 1);
const P3 = Date.UTC(2027, 1, 1);

function grant(over: Partial<BundleGrant> = {}): BundleGrant {
  return {
    seq: 1,
    suffix: 'data',
    unit: 'data',
    allowance: GiB,
    weight: 10,
    periodStartMs: P0,
    periodEndMs: P1,
    renewal: 'rollover',
    rolloverCap: 500 * MiB,
    rolloverExpiryMs: P2,
    k: 0,
    ...over,
  };
}

const data = (bytes: number) => ({ unit: 'data' as const, units: bytes, amountNano: bytes });

async function newAccount(id: string, type: 'prepaid' | 'postpaid' = 'prepaid', creditLimitNano = 0) {
  await store.createAccount(
    { tenant: 't', id, type, currency: 'GBP', subject: id, creditLimitNano },
    `c:${id}`,
  );
  await store.addBalance('t', id, { id: 'main', unit: 'money', value: 1_000_000_000 }, `m:${id}`);
}

async function values(id: string): Promise<Record<string, [number, number]>> {
  const v = (await store.getAccount('t', id))!;
  return Object.fromEntries(
    v.balances.filter((b) => b.unit !== 'money').map((b) => [b.id, [b.value, b.held]]),
  );
}

beforeAll(async () => {
  await newAccount('a3');
});

describe('bundle-renew checks', () => {
  it('refuses an unknown account, changing nothing', async () => {
    const before = await dumpKeys(redis, prefix);
    const r = await store.renewBundle('t', 'nobody', grant(), 'renew:x:0');
    expect(r.code).toBe('ACCOUNT_NOT_FOUND');
    expect(await dumpKeys(redis, prefix)).toEqual(before);
  });

  it('refuses a closed account and a main id holding another unit', async () => {
    await newAccount('closed');
    await store.updateAccount('t', 'closed', { status: 'closed' }, 'close');
    expect((await store.renewBundle('t', 'closed', grant(), 'r:closed')).code).toBe('ACCOUNT_INACTIVE');
    await newAccount('clash');
    await store.addBalance('t', 'clash', { id: 'plan.1.data', unit: 'sms', value: 5 }, 'sms');
    const before = await dumpKeys(redis, prefix);
    const r = await store.renewBundle('t', 'clash', grant(), 'r:clash');
    expect(r).toMatchObject({ code: 'BALANCE_EXISTS', detail: 'plan.1.data' });
    expect(await dumpKeys(redis, prefix)).toEqual(before);
  });

  it('answers a replay with the first answer and a reused id with another body CONFLICT', async () => {
    await newAccount('rp');
    const first = await store.renewBundle('t', 'rp', grant(), 'r:rp');
    expect(first).toMatchObject({ code: 'OK', replayed: false });
    const before = await dumpKeys(redis, prefix);
    expect(await store.renewBundle('t', 'rp', grant(), 'r:rp')).toMatchObject({ code: 'OK', replayed: true });
    expect((await store.renewBundle('t', 'rp', grant({ allowance: 5 }), 'r:rp')).code).toBe('CONFLICT');
    // Another id for a period already granted moves nothing.
    const again = await store.renewBundle('t', 'rp', grant(), 'r:rp:other');
    expect(again).toMatchObject({ code: 'OK', alreadyRenewed: true, movements: [] });
    const after = await dumpKeys(redis, prefix);
    const changed = Object.keys(after).filter((k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]));
    expect(changed.every((k) => k.includes(':op:'))).toBe(true); // only the new id's record
  });

  it('reset drops what is left (kind expire) and sets the allowance', async () => {
    await newAccount('rs');
    await store.renewBundle('t', 'rs', grant({ renewal: 'reset' }), 'r:rs:0');
    await store.debit('t', 'rs', { opId: 'use', charge: data(GiB - 300 * MiB) });
    clock = P1;
    const r = await store.renewBundle(
      't',
      'rs',
      grant({ renewal: 'reset', periodStartMs: P1, periodEndMs: P2, k: 1 }),
      'r:rs:1',
    );
    expect(r).toMatchObject({ code: 'OK', rolled: 0, dropped: 300 * MiB });
    expect(await values('rs')).toEqual({ 'plan.1.data': [GiB, 0] });
    const expired = (await outboxMoves(redis, store, 't', 'rs')).filter((m) => m.kind === 'expire');
    expect(expired.reduce((s, m) => s - m.delta, 0)).toBe(300 * MiB);
    clock = P0;
  });
});

describe('E.6 #3: renewal with rollover', () => {
  it('rolls 300 MiB over under a 500 MiB cap, consumed first; held units stay held; replay changes nothing', async () => {
    clock = P0 + DAY;
    expect((await store.renewBundle('t', 'a3', grant(), 'renew:as1:p0:data')).code).toBe('OK');
    await store.debit('t', 'a3', { opId: 'use1', charge: data(GiB - 300 * MiB - 40 * MiB) });
    // A data session open across the renewal holds 40 MiB of the old allowance.
    clock = P1 - 60_000;
    const reserve = await runStep(store, 't', 'a3', 'sess:open', [
      { verb: 'reserve', reservationId: 'sess', expiresMs: P1 + 3600_000, charge: data(40 * MiB) },
    ]);
    expect(firstResult(reserve).code).toBe('OK');
    expect(await values('a3')).toEqual({ 'plan.1.data': [340 * MiB, 40 * MiB] });

    clock = P1;
    const g1 = grant({ periodStartMs: P1, periodEndMs: P2, rolloverExpiryMs: P2, k: 1 });
    const r = await store.renewBundle('t', 'a3', g1, 'renew:as1:p1:data');
    expect(r).toMatchObject({ code: 'OK', rolled: 300 * MiB, dropped: 0 });
    // New 1 GiB (40 MiB of it still held by the session) and 300 MiB rolled over.
    expect(await values('a3')).toEqual({ 'plan.1.data': [GiB, 40 * MiB], 'plan.1.data.ro1': [300 * MiB, 0] });

    // The session's settle commits against the new allowance.
    clock = P1 + 60_000;
    const settle = await runStep(store, 't', 'a3', 'sess:close', [
      { verb: 'settle', reservationId: 'sess', charge: data(30 * MiB) },
    ]);
    expect(firstResult(settle).code).toBe('OK');
    expect(await values('a3')).toEqual({
      'plan.1.data': [GiB - 30 * MiB, 0],
      'plan.1.data.ro1': [300 * MiB, 0],
    });

    // A new session: the rollover (weight + 1) pays first, then the main bundle.
    await runStep(store, 't', 'a3', 'sess2:open', [
      { verb: 'reserve', reservationId: 'sess2', expiresMs: P1 + 3600_000, charge: data(400 * MiB) },
    ]);
    const v = (await store.getAccount('t', 'a3'))!;
    expect(v.reservations[0]!.holds).toEqual(
      expect.arrayContaining([
        { scope: 'a', balanceId: 'plan.1.data.ro1', amount: 300 * MiB },
        { scope: 'a', balanceId: 'plan.1.data', amount: 100 * MiB },
      ]),
    );
    await runStep(store, 't', 'a3', 'sess2:close', [
      { verb: 'settle', reservationId: 'sess2', charge: data(400 * MiB) },
    ]);
    expect(await values('a3')).toEqual({ 'plan.1.data': [GiB - 130 * MiB, 0], 'plan.1.data.ro1': [0, 0] });

    // Next renewal: 894 MiB left, cap 500 MiB -> 394 MiB dropped; ro1 expired and removed.
    clock = P2;
    const g2 = grant({ periodStartMs: P2, periodEndMs: P3, rolloverExpiryMs: P3 + 31 * DAY, k: 2 });
    const before = (await outboxMoves(redis, store, 't', 'a3')).length;
    const r2 = await store.renewBundle('t', 'a3', g2, 'renew:as1:p2:data');
    expect(r2).toMatchObject({ code: 'OK', rolled: 500 * MiB, dropped: 394 * MiB });
    expect(await values('a3')).toEqual({ 'plan.1.data': [GiB, 0], 'plan.1.data.ro2': [500 * MiB, 0] });
    const moves = (await outboxMoves(redis, store, 't', 'a3')).slice(before);
    const expired = moves.filter((m) => m.kind === 'expire').reduce((s, m) => s - m.delta, 0);
    expect(expired).toBe(r2.dropped);
    expect(moves.map((m) => [m.balanceId, m.kind, m.delta])).toEqual([
      ['plan.1.data', 'rollover', -500 * MiB],
      ['plan.1.data.ro2', 'rollover', 500 * MiB],
      ['plan.1.data', 'expire', -394 * MiB],
      ['plan.1.data', 'renew', GiB],
    ]);

    // Replaying the renewals changes nothing.
    const dump = await dumpKeys(redis, prefix);
    expect((await store.renewBundle('t', 'a3', g1, 'renew:as1:p1:data')).replayed).toBe(true);
    expect((await store.renewBundle('t', 'a3', g2, 'renew:as1:p2:data')).replayed).toBe(true);
    expect(await dumpKeys(redis, prefix)).toEqual(dump);
    clock = P0;
  });
});

describe('bundle-renew model', () => {
  it('matches a reference of value, held and siblings over random usage and renewals', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            use: fc.integer({ min: 0, max: 1500 }),
            hold: fc.integer({ min: 0, max: 300 }),
            mode: fc.constantFrom('reset' as const, 'rollover' as const),
            cap: fc.integer({ min: 0, max: 1200 }),
            periods: fc.integer({ min: 1, max: 3 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (rounds) => {
          const id = `m${n++}`;
          await newAccount(id);
          const allowance = 1000;
          const ref = new Map<string, { value: number; held: number; expiry: number }>();
          const t = (k: number) => P0 + k * 30 * DAY;
          await store.renewBundle(
            't',
            id,
            grant({ allowance, periodStartMs: t(0), periodEndMs: t(1) }),
            `${id}:0`,
          );
          ref.set('plan.1.data', { value: allowance, held: 0, expiry: t(1) });
          for (const [i, x] of rounds.entries()) {
            const k = i + 1;
            clock = t(k) - 1000;
            const main = ref.get('plan.1.data')!;
            // Usage from the main bundle only (the siblings are spent first: keep them out of the model).
            const siblingsFree = [...ref].filter(([s]) => s !== 'plan.1.data' && ref.get(s)!.expiry > clock);
            const hold = Math.min(x.hold, main.value - main.held);
            if (siblingsFree.every(([, s]) => s.value - s.held === 0) && hold > 0) {
              const out = await runStep(store, 't', id, `${id}:h${k}`, [
                { verb: 'reserve', reservationId: `${id}:r${k}`, expiresMs: t(k + 10), charge: data(hold) },
              ]);
              expect(firstResult(out).code).toBe('OK');
              main.held += hold;
            }
            const use = Math.min(x.use, main.value - main.held);
            if (siblingsFree.every(([, s]) => s.value - s.held === 0) && use > 0) {
              await store.debit('t', id, { opId: `${id}:u${k}`, charge: data(use) });
              main.value -= use;
            }
            clock = t(k);
            const g = grant({
              allowance,
              renewal: x.mode,
              rolloverCap: x.cap,
              periodStartMs: t(k),
              periodEndMs: t(k + 1),
              rolloverExpiryMs: t(k + x.periods),
              k,
            });
            const r = await store.renewBundle('t', id, g, `${id}:${k}`);
            // The reference: expired siblings go, the rest of main rolls (capped) or drops, main resets.
            for (const [s, b] of [...ref])
              if (s !== 'plan.1.data' && b.expiry <= clock && b.held === 0) ref.delete(s);
            const avail = main.value - main.held;
            const rolled = x.mode === 'rollover' ? Math.min(avail, x.cap) : 0;
            expect(r).toMatchObject({ code: 'OK', rolled, dropped: avail - rolled });
            if (rolled > 0)
              ref.set(`plan.1.data.ro${k}`, { value: rolled, held: 0, expiry: t(k + x.periods) });
            main.value = allowance;
            main.expiry = t(k + 1);
            const want = Object.fromEntries([...ref].map(([s, b]) => [s, [b.value, b.held]]));
            expect(await values(id)).toEqual(want);
          }
        },
      ),
      { numRuns: 40 },
    );
    clock = P0;
  });
});

describe('forced debit (the fee paths of billing)', () => {
  const fee = (amountNano: number) => ({ unit: 'generic' as const, units: 0, amountNano });
  it.each([
    ['postpaid fee within the credit limit', 'postpaid', 500, 1000, false, 'OK'],
    ['postpaid fee beyond the credit limit, unforced', 'postpaid', 500, 3000, false, 'INSUFFICIENT'],
    [
      'postpaid fee beyond the credit limit, forced (renewal, invoice settlement)',
      'postpaid',
      500,
      3000,
      true,
      'OK',
    ],
    ['prepaid fee beyond the money, unforced (prepaid renewals)', 'prepaid', 0, 2000, false, 'INSUFFICIENT'],
  ] as const)('%s', async (_name, type, limitNano, amount, force, code) => {
    const id = `f${Math.random().toString(36).slice(2, 8)}`;
    await store.createAccount(
      { tenant: 't', id, type, currency: 'GBP', subject: id, creditLimitNano: limitNano },
      `c:${id}`,
    );
    await store.addBalance('t', id, { id: 'main', unit: 'money', value: 1000 }, `m:${id}`);
    const before = await dumpKeys(redis, prefix);
    const r = await store.debit('t', id, { opId: `fee:${id}`, charge: fee(amount), force });
    expect(r.code).toBe(code);
    if (code === 'OK') expect(r.movements[0]!.valueAfter).toBe(1000 - amount);
    else expect(await dumpKeys(redis, prefix)).toEqual(before);
  });

  it('a forced and an unforced debit under one id are different requests', async () => {
    await newAccount('ff');
    expect((await store.debit('t', 'ff', { opId: 'x', charge: fee(5), force: true })).code).toBe('OK');
    expect((await store.debit('t', 'ff', { opId: 'x', charge: fee(5) })).code).toBe('CONFLICT');
  });
});
