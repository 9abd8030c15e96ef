/**
 * Model-based test: random sequences of credit, debit, reserve, commit, release, expiry and
 * replays run against Redis and against a small in-memory reference model. Results, balances and
 * the ledger must agree, and the invariants must hold: never below zero (prepaid) or minus the
 * credit limit (postpaid), the ledger sums to the balance, a replay changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Charge } from '../../src/balances/model.js';
import { planCharge, type SnapshotBalance } from './reference-planner.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();

type Op =
  | { kind: 'credit'; balance: string; amount: number }
  | { kind: 'debit'; charge: Charge }
  | { kind: 'reserve'; res: string; charge: Charge; ttl: number }
  | { kind: 'commit'; res: string; used: Charge }
  | { kind: 'release'; res: string }
  | { kind: 'tick'; seconds: number }
  | { kind: 'replay'; index: number };

const charge = fc.record({
  unit: fc.constant('voice' as const),
  units: fc.integer({ min: 0, max: 120 }),
  amountNano: fc.integer({ min: 0, max: 400 }),
  destination: fc.constantFrom('UK', 'FR'),
});
const resId = fc.constantFrom('r1', 'r2', 'r3');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('credit' as const),
    balance: fc.constantFrom('main', 'mins'),
    amount: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({ kind: fc.constant('debit' as const), charge }),
  fc.record({
    kind: fc.constant('reserve' as const),
    res: resId,
    charge,
    ttl: fc.integer({ min: 1, max: 60 }),
  }),
  fc.record({ kind: fc.constant('commit' as const), res: resId, used: charge }),
  fc.record({ kind: fc.constant('release' as const), res: resId }),
  fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 90 }) }),
  fc.record({ kind: fc.constant('replay' as const), index: fc.nat() }),
);

/** The reference model: plain objects, the same rules. */
class Model {
  balances = new Map<string, SnapshotBalance>();
  reservations = new Map<string, { expiresMs: number; holds: Map<string, number> }>();
  results = new Map<string, { fp: string; code: string }>();
  constructor(
    readonly type: 'prepaid' | 'postpaid',
    readonly limit: number,
  ) {
    const base = {
      weight: 0,
      activationMs: 0,
      expiryMs: null,
      destinations: [],
      ratingGroups: [],
      categories: [],
      shared: false,
      held: 0,
      scope: 'a' as const,
    };
    this.balances.set('main', { ...base, id: 'main', unit: 'money', value: 200 });
    this.balances.set('mins', {
      ...base,
      id: 'mins',
      unit: 'voice',
      value: 30,
      weight: 5,
      destinations: ['UK'],
    });
  }
  account() {
    return {
      tenant: 't',
      id: 'x',
      type: this.type,
      currency: 'EUR',
      status: 'active' as const,
      creditLimitNano: this.limit,
      subject: 'x',
      sharedGroup: null,
      subscriptions: [],
    };
  }
  expire(now: number) {
    for (const [id, r] of this.reservations) if (r.expiresMs <= now) this.drop(id);
  }
  drop(id: string) {
    for (const [b, amt] of this.reservations.get(id)!.holds) this.balances.get(b)!.held -= amt;
    this.reservations.delete(id);
  }
  /** Whether the last operation was answered from a stored result. */
  lastReplayed = false;
  /** Runs an operation once per id; `remembers` says which results are stored (a refused debit is not). */
  once(opId: string, fp: string, run: () => string, remembers = (_code: string) => true): string {
    const seen = this.results.get(opId);
    this.lastReplayed = seen?.fp === fp;
    if (seen) return seen.fp === fp ? seen.code : 'CONFLICT';
    const code = run();
    if (remembers(code)) this.results.set(opId, { fp, code });
    return code;
  }
  apply(op: Op, opId: string, now: number): string {
    const fp = JSON.stringify(op);
    switch (op.kind) {
      case 'credit':
        return this.once(opId, fp, () => ((this.balances.get(op.balance)!.value += op.amount), 'OK'));
      case 'debit':
        return this.once(
          opId,
          fp,
          () => {
            this.expire(now);
            const p = planCharge(this.account(), [...this.balances.values()], op.charge, now);
            if (!p.ok) return 'INSUFFICIENT';
            for (const m of p.moves) this.balances.get(m.balanceId)!.value -= m.amount;
            return 'OK';
          },
          (code) => code === 'OK',
        );
      case 'reserve':
        return this.once(opId, fp, () => {
          this.expire(now);
          if (this.reservations.has(op.res)) return 'RESERVATION_EXISTS';
          const p = planCharge(this.account(), [...this.balances.values()], op.charge, now);
          if (!p.ok) return 'INSUFFICIENT';
          const holds = new Map<string, number>();
          for (const m of p.moves) {
            this.balances.get(m.balanceId)!.held += m.amount;
            holds.set(m.balanceId, m.amount);
          }
          this.reservations.set(op.res, { expiresMs: now + op.ttl * 1000, holds });
          return 'OK';
        });
      case 'commit':
        return this.once(opId, fp, () => {
          this.expire(now);
          const r = this.reservations.get(op.res);
          if (!r) return 'RESERVATION_NOT_FOUND';
          const held = [...r.holds].map(([id, amt]) => ({ ...this.balances.get(id)!, value: amt, held: 0 }));
          const p = planCharge({ ...this.account(), type: 'prepaid' }, held, op.used, now);
          if (!p.ok) return 'RESERVATION_EXCEEDED';
          this.drop(op.res);
          for (const m of p.moves) this.balances.get(m.balanceId)!.value -= m.amount;
          return 'OK';
        });
      case 'release':
        return this.once(opId, fp, () =>
          this.reservations.has(op.res) ? (this.drop(op.res), 'OK') : 'RESERVATION_NOT_FOUND',
        );
      default:
        throw new Error(op.kind);
    }
  }
}

let run = 0;

describe('balance store against a reference model', () => {
  it('agrees on every result and state, and keeps the invariants', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('prepaid' as const, 'postpaid' as const),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        async (type, ops) => {
          let now = Date.UTC(2026, 10, 20);
          const keyPrefix = `${prefix}m${++run}:`;
          const store = createBalanceStore({ redis, keyPrefix, now: () => now });
          const limit = type === 'postpaid' ? 150 : 0;
          await store.createAccount(
            { tenant: 't', id: 'x', type, currency: 'EUR', subject: 'x', creditLimitNano: limit },
            'create',
          );
          await store.addBalance('t', 'x', { id: 'main', unit: 'money', value: 200 }, 'add-main');
          await store.addBalance(
            't',
            'x',
            { id: 'mins', unit: 'voice', value: 30, weight: 5, destinations: ['UK'] },
            'add-mins',
          );
          const model = new Model(type, limit);
          const done: { op: Op; opId: string }[] = [];

          for (const [i, original] of ops.entries()) {
            let op = original;
            let opId = `op${i}`;
            if (op.kind === 'replay') {
              const earlier = done[op.index % Math.max(done.length, 1)];
              if (!earlier) continue;
              ({ op, opId } = earlier);
            }
            if (op.kind === 'tick') {
              now += op.seconds * 1000;
              continue;
            }
            const expected = model.apply(op, opId, now);
            const got = await execute(store, op, opId);
            expect(got.code, `${i}: ${JSON.stringify(op)}`).toBe(expected);
            if (original.kind === 'replay') expect(got.replayed).toBe(model.lastReplayed);
            else done.push({ op, opId });

            const view = (await store.getAccount('t', 'x'))!;
            model.expire(now); // reading expires due reservations in the store too
            for (const b of view.balances) {
              const m = model.balances.get(b.id)!;
              expect([b.id, b.value, b.held]).toEqual([b.id, m.value, m.held]);
              const floor = b.unit === 'money' && type === 'postpaid' ? -limit : 0;
              expect(b.value - b.held).toBeGreaterThanOrEqual(floor);
            }
          }
          // The ledger (still in Redis) sums to every balance.
          const stream = `${keyPrefix}{a:t:x}:outbox`;
          const sums = new Map<string, number>();
          for (const [, f] of await redis.xrange(stream, '-', '+')) {
            const moves = f[f.indexOf('moves') + 1]!.split(';').map((m) => m.split(','));
            for (const [, balance, , , delta] of moves)
              sums.set(balance!, (sums.get(balance!) ?? 0) + Number(delta));
          }
          for (const b of (await store.getAccount('t', 'x'))!.balances) expect(sums.get(b.id)).toBe(b.value);
        },
      ),
      { numRuns: 150 },
    );
  });
});

function execute(store: ReturnType<typeof createBalanceStore>, op: Op, opId: string) {
  switch (op.kind) {
    case 'credit':
      return store.credit('t', 'x', { opId, balanceId: op.balance, amount: op.amount });
    case 'debit':
      return store.debit('t', 'x', { opId, charge: op.charge });
    case 'reserve':
      return store.reserve('t', 'x', { opId, reservationId: op.res, charge: op.charge, ttlSeconds: op.ttl });
    case 'commit':
      return store.commit('t', 'x', { opId, reservationId: op.res, used: op.used });
    case 'release':
      return store.release('t', 'x', { opId, reservationId: op.res });
    default:
      throw new Error(op.kind);
  }
}
