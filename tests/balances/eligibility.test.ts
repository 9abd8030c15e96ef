/**
 * One rule of which balance pays and in what order (docs/BALANCES.md), on both sides: random
 * accounts (voice, generic and money balances, weights, expiries, destination filters with
 * exclusions, blockers, `*zero1m`, shared groups) are charged through the production `step`
 * script on the real Redis, and the result must be what the TypeScript side's order
 * (`payingOrder`, used by affordableUsage) predicts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { proRata } from '../../src/balances/pro-rata.js';
import type { SnapshotBalance } from '../../src/balances/snapshot.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { affordableUsage, payingOrder, type BalanceSnapshot } from '../../src/rating/affordable.js';
import { parseMatches } from '../../src/rating/balance-match.js';
import { parseEvent, rateEvent } from '../../src/rating/index.js';
import { build, slot } from '../support/plans.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const NOW = Date.UTC(2026, 10, 20, 10, 0, 0);
const S = 1e9;
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => NOW });

/** What rating lists for a few numbers: destinations holding a prefix, with its length. */
const NUMBERS = ['6:UK_MOB_VF,4:UK_MOB,3:UK', '4:UK_MOB,3:UK', '3:UK', '3:FR', ''];
const FILTERS = ['UK', 'UK_MOB', 'UK_MOB_VF', 'FR', '!UK_MOB', '!FR'];

const balanceArb = fc.record({
  unit: fc.constantFrom('voice' as const, 'money' as const, 'generic' as const),
  value: fc.integer({ min: 0, max: 120 }),
  weight: fc.constantFrom(0, 10, 20),
  expiryMs: fc.constantFrom(null, NOW + 3_600_000, NOW + 7_200_000, NOW - 1),
  destinations: fc.subarray(FILTERS, { maxLength: 3 }),
  blocker: fc.boolean(),
  zero1m: fc.boolean(),
  shared: fc.boolean(),
});
const caseArb = fc.record({
  balances: fc.array(balanceArb, { minLength: 1, maxLength: 6 }),
  number: fc.constantFrom(...NUMBERS),
  seconds: fc.integer({ min: 1, max: 200 }),
  pricePerSecondNano: fc.constantFrom(0, 1_000_000, 7_000_000),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
type Expected = { code: 'OK'; taken: Map<string, number> } | { code: 'INSUFFICIENT' };

let accounts = 0;

/** Provisions the case on a fresh account (in a shared group); returns its id. */
async function provision(c: Case): Promise<string> {
  const id = `acct${++accounts}`;
  await store.createAccount(
    { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: 's', sharedGroup: `g${accounts}` },
    `${id}:open`,
  );
  for (const [i, b] of c.balances.entries()) {
    const r = await store.addBalance(
      't',
      id,
      {
        id: `b${i}`,
        unit: b.unit,
        value: b.unit === 'money' ? b.value * 10_000_000 : b.value * S,
        weight: b.weight,
        expiryMs: b.expiryMs,
        destinations: b.destinations,
        blocker: b.blocker,
        ratingSubject: b.unit !== 'money' && b.zero1m ? '*zero1m' : '',
        shared: b.shared,
      },
      `${id}:b${i}`,
    );
    expect(r.code).toBe('OK');
  }
  return id;
}

const keyOf = (b: SnapshotBalance) => `${b.scope}:${b.id}`;

const snapshotOf = (balances: SnapshotBalance[]) =>
  balances
    .filter((b) => b.expiryMs === null || b.expiryMs > NOW)
    .map((b): BalanceSnapshot => ({
      id: keyOf(b),
      unit: b.unit,
      value: BigInt(b.value),
      weight: b.weight,
      destinations: b.destinations,
      blocker: b.blocker,
      expiryMs: b.expiryMs,
      unitIncrement: b.unitIncrement,
    }));

/** The TypeScript side: the balances in `payingOrder`, paid as the documented rule says. */
function predict(balances: SnapshotBalance[], c: Case, units: number, amountNano: number): Expected {
  const active = balances.filter((b) => b.expiryMs === null || b.expiryMs > NOW);
  const snapshot = active.map((b): BalanceSnapshot => ({
    id: keyOf(b),
    unit: b.unit,
    value: BigInt(b.value),
    weight: b.weight,
    destinations: b.destinations,
    blocker: b.blocker,
    expiryMs: b.expiryMs,
    unitIncrement: b.unitIncrement,
  }));
  const order = payingOrder(snapshot, 'voice', parseMatches(c.number));
  const taken = new Map<string, number>();
  let remaining = units;
  for (const b of order.filter((x) => x.unit !== 'money')) {
    if (remaining === 0) break;
    const step = b.unitIncrement ?? 1;
    const free = Number(b.value);
    const whole = Math.floor(free / step) * step;
    const covered = Math.min(remaining, whole);
    const consumed = Math.ceil(covered / step) * step;
    if (consumed > 0) taken.set(b.id, consumed);
    remaining -= covered;
    if (remaining > 0 && b.blocker) return { code: 'INSUFFICIENT' };
  }
  let money = proRata(amountNano, remaining, units);
  for (const b of order.filter((x) => x.unit === 'money')) {
    if (money === 0) break;
    const take = Math.min(money, Number(b.value));
    if (take > 0) taken.set(b.id, take);
    money -= take;
    if (money > 0 && b.blocker) return { code: 'INSUFFICIENT' };
  }
  return money > 0 ? { code: 'INSUFFICIENT' } : { code: 'OK', taken };
}

/** The Lua side: one debit through the production step script; what each balance gave. */
async function charge(id: string, c: Case, units: number, amountNano: number): Promise<Expected> {
  const before = (await store.getAccount('t', id))!.balances;
  let priced: { covered: number; moneyNano: number } | undefined;
  for (let round = 0; round < 3; round++) {
    const out = await store.step('t', id, {
      stepId: `${id}:debit:${round}`,
      fingerprint: `${id}:${round}`,
      answer: '{}',
      retentionSeconds: 60,
      ops: [
        {
          verb: 'debit',
          charge: { unit: 'voice', units, amountNano, destination: c.number, category: 'call' },
          ...(priced ? { priced } : {}),
        },
      ],
    });
    if (out.status !== 'APPLIED' && out.status !== 'DEVIATED') throw new Error(out.status);
    const r = out.results[0]!;
    if (r.code === 'NEED_PRICE') {
      priced = { covered: r.covered!, moneyNano: proRata(amountNano, units - r.covered!, units) };
      continue;
    }
    if (r.code !== 'OK') return { code: r.code as 'INSUFFICIENT' };
    const after = new Map((await store.getAccount('t', id))!.balances.map((b) => [keyOf(b), b.value]));
    const taken = new Map<string, number>();
    for (const b of before) {
      const gave = b.value - after.get(keyOf(b))!;
      if (gave !== 0) taken.set(keyOf(b), gave);
    }
    return { code: 'OK', taken };
  }
  throw new Error('priced three times');
}

describe('which balance pays, and in what order: TypeScript and Lua agree', () => {
  it('on random accounts', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const id = await provision(c);
        const units = c.seconds * S;
        const amountNano = c.seconds * c.pricePerSecondNano;
        const balances = (await store.getAccount('t', id))!.balances;
        expect(await charge(id, c, units, amountNano)).toEqual(predict(balances, c, units, amountNano));
      }),
      { numRuns: 300 },
    );
  });
});

/** Every destination priced at 0.01/s in 1 s increments, so that the rated numbers match several. */
const tariff = build({
  destinations: { UK: ['+44'], UK_MOB: ['+447'], UK_MOB_VF: ['+447700'], FR: ['+33'] },
  rates: { R: [slot('0.6', 60, 1)] },
  bindings: ['UK', 'UK_MOB', 'UK_MOB_VF', 'FR'].map((destination) => ({ destination, rate: 'R' })),
});
const PER_SECOND_NANO = 10_000_000;
const DIALLED = ['+447700900123', '+447911123456', '+442071234567', '+33123456789'];

function rated(number: string, seconds: number) {
  const ev = parseEvent({
    tenant: 't',
    category: 'call',
    subject: 'u',
    destination: number,
    answerTime: new Date(NOW).toISOString(),
    usage: seconds,
    tor: 'voice',
  });
  if ('ok' in ev) throw new Error(ev.message);
  const r = rateEvent(tariff, ev);
  if (!r.ok) throw new Error(r.message);
  return r;
}

/** Whether the step script would reserve `seconds` to the number now (a probe: nothing moves). */
async function reservable(id: string, destination: string, seconds: number): Promise<boolean> {
  const units = seconds * S;
  const amountNano = seconds * PER_SECOND_NANO;
  let priced: { covered: number; moneyNano: number } | undefined;
  for (let round = 0; round < 3; round++) {
    const out = await store.step('t', id, {
      stepId: `${id}:probe:${seconds}:${round}`,
      fingerprint: `${id}:${seconds}:${round}`,
      answer: '{}',
      retentionSeconds: 60,
      ops: [
        {
          verb: 'reserve',
          reservationId: 'r',
          expiresMs: NOW + 60_000,
          charge: { unit: 'voice', units, amountNano, destination, category: 'call' },
          expect: 'probe',
          ...(priced ? { priced } : {}),
        },
      ],
    });
    if (out.status !== 'APPLIED' && out.status !== 'DEVIATED') throw new Error(out.status);
    const r = out.results[0]!;
    if (r.code !== 'NEED_PRICE') return r.code === 'EXPECTATION' || r.code === 'OK';
    priced = { covered: r.covered!, moneyNano: proRata(amountNano, units - r.covered!, units) };
  }
  throw new Error('priced three times');
}

describe('the grant computed in TypeScript is what the step script reserves', () => {
  it('on random accounts and dialled numbers', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.constantFrom(...DIALLED), async (c, number) => {
        const id = await provision(c);
        const asked = rated(number, c.seconds);
        const balances = (await store.getAccount('t', id))!.balances;
        const seconds = affordableUsage(asked, snapshotOf(balances)).usage / S;
        const destination = asked.segments[0]!.balanceDestinations;
        if (seconds > 0) expect(await reservable(id, destination, seconds)).toBe(true);
        if (seconds < c.seconds) expect(await reservable(id, destination, seconds + 1)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
