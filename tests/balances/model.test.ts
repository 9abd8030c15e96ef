/**
 * Model-based test of the one money path: random charging steps (each of a few operations: settle,
 * debit, reserve, release, refund, some with an expectation the step must meet), credits, the
 * clock moving on (reservations and a balance expire) and replays run against Redis and against a
 * small in-memory reference model (reference-planner.ts for who pays). The account draws on its
 * own balances and on its shared group's, filtered by destination (matched by prefix as rating
 * sends it, `!ID` exclusions) and rating group, with blockers, `*zero` bundles consumed in whole
 * steps and generic units after the charge's own. Every step's
 * outcome, the balances and the ledger must agree, and the invariants hold: never below zero
 * (prepaid) or minus the credit limit (postpaid), the ledger sums to each balance, a replay changes
 * nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Charge } from '../../src/balances/model.js';
import type { StepOp, StepOutcome } from '../../src/balances/step.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testRedis } from '../support/redis.js';
import { keyOf, planCharge, type Move, type Plan, type RefBalance } from './reference-planner.js';
import { priceRest } from './step-helpers.js';

const { redis, prefix } = testRedis();
const START = Date.UTC(2026, 10, 20);

/** An operation of a step before the clock gives a reserve its expiry. */
type OpDraft = Omit<StepOp, 'expiresMs'> & { ttlSeconds?: number };

type Action =
  | { kind: 'step'; ops: OpDraft[] }
  | { kind: 'credit'; balance: string; shared: boolean; amount: number }
  | { kind: 'tick'; seconds: number }
  /** The same step again (a replay), or (`other`) another request under an earlier step's id. */
  | { kind: 'again'; index: number; other: boolean };

/**
 * Destinations as rating sends them: every destination holding a prefix of the dialled number,
 * with the length of its longest such prefix (a UK Vodafone mobile, another UK mobile, a UK fixed
 * line, France, a number no destination holds), and bare ids as older callers send them.
 */
const DESTINATIONS = ['6:UK_MOB_VF,4:UK_MOB,3:UK', '4:UK_MOB,3:UK', '3:UK', '3:FR', '', 'UK', 'FR'];
const charge: fc.Arbitrary<Charge> = fc.record({
  unit: fc.constantFrom('voice' as const, 'sms' as const, 'generic' as const),
  units: fc.integer({ min: 0, max: 120 }),
  amountNano: fc.integer({ min: 0, max: 400 }),
  destination: fc.constantFrom(...DESTINATIONS),
  ratingGroup: fc.constantFrom(1, 2),
});
const resId = fc.constantFrom('r1', 'r2', 'r3');
const expect_ = fc.constantFrom(undefined, undefined, undefined, 'probe' as const);
const opArb: fc.Arbitrary<OpDraft> = fc.oneof(
  fc.record({ verb: fc.constant('settle' as const), reservationId: resId, charge, expect: expect_ }),
  fc.record({ verb: fc.constant('debit' as const), charge, expect: expect_ }),
  fc.record({
    verb: fc.constant('reserve' as const),
    reservationId: resId,
    charge,
    ttlSeconds: fc.integer({ min: 1, max: 60 }),
    expect: expect_,
  }),
  fc.record({ verb: fc.constant('release' as const), reservationId: resId }),
  fc.record({
    verb: fc.constant('refund' as const),
    charge: fc.record({
      unit: fc.constant('sms' as const),
      units: fc.constant(0),
      amountNano: fc.integer({ min: 1, max: 100 }),
    }),
  }),
);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('step' as const),
      ops: fc.array(opArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  fc.record({
    kind: fc.constant('credit' as const),
    balance: fc.constantFrom('main', 'mins', 'pool', 'bundle', 'units'),
    shared: fc.constant(false),
    amount: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 90 }) }),
  fc.record({ kind: fc.constant('again' as const), index: fc.nat(), other: fc.boolean() }),
);

/** The balances every run starts with: own money and minutes, a promotion that expires, the group's. */
function initialBalances(): RefBalance[] {
  const base = {
    weight: 0,
    activationMs: 0,
    expiryMs: null,
    destinations: [],
    ratingGroups: [],
    categories: [],
    shared: false,
    held: 0,
  };
  return [
    { ...base, scope: 'a', id: 'main', unit: 'money', value: 200 },
    { ...base, scope: 'a', id: 'promo', unit: 'money', value: 50, weight: 10, expiryMs: START + 60_000 },
    { ...base, scope: 'a', id: 'mins', unit: 'voice', value: 30, weight: 5, destinations: ['UK'] },
    { ...base, scope: 'a', id: 'intl', unit: 'money', value: 60, weight: 4, destinations: ['!UK'] },
    {
      ...base,
      scope: 'a',
      id: 'fr',
      unit: 'voice',
      value: 20,
      weight: 3,
      destinations: ['FR'],
      ratingGroups: [2],
      blocker: true,
    },
    { ...base, scope: 'g', id: 'pool', unit: 'voice', value: 40, weight: 8, ratingGroups: [1], shared: true },
    // Mobile minutes consumed in whole steps of 10 (*zero10ns), UK mobiles only: more specific
    // than `mins` for a mobile number, so it pays first there, whatever the weights.
    {
      ...base,
      scope: 'a',
      id: 'bundle',
      unit: 'voice',
      value: 45,
      weight: 1,
      destinations: ['UK_MOB'],
      ratingSubject: '*zero10ns',
    },
    // Texts to Vodafone numbers only, in pairs (*zero2ns); a blocker.
    {
      ...base,
      scope: 'a',
      id: 'vftext',
      unit: 'sms',
      value: 5,
      destinations: ['UK_MOB_VF'],
      ratingSubject: '*zero2ns',
      blocker: true,
    },
    // Generic units: after every balance of the charge's own unit, before money (not for France).
    { ...base, scope: 'a', id: 'units', unit: 'generic', value: 25, weight: 7, destinations: ['!FR'] },
    { ...base, scope: 'g', id: 'family', unit: 'money', value: 100, weight: 2, shared: true },
  ];
}

interface Reservation {
  expiresMs: number;
  holds: Map<string, number>;
}

/** The reference: plain objects, the step's rules (lua/step.lua) read independently. */
class Model {
  balances = new Map<string, RefBalance>();
  reservations = new Map<string, Reservation>();
  answers = new Map<string, { fp: string; answer: string }>();
  constructor(readonly floor: number) {
    for (const b of initialBalances()) this.balances.set(keyOf(b), b);
  }

  /** Gives back the reservations whose time has come (every step and every read does first). */
  expire(now: number) {
    for (const [id, r] of this.reservations) {
      if (r.expiresMs > now) continue;
      for (const [key, amount] of r.holds) this.balances.get(key)!.held -= amount;
      this.reservations.delete(id);
    }
  }

  /** One step: replay check, expiry, then every operation against the state the earlier ones left. */
  step(stepId: string, fp: string, answer: string, ops: StepOp[], now: number): StepOutcome {
    const seen = this.answers.get(stepId);
    if (seen) return seen.fp === fp ? { status: 'REPLAY', answer: seen.answer } : { status: 'CONFLICT' };
    this.expire(now);
    const work = new StepWork(this, now);
    const results = ops.map((op) => work.run(op));
    if (results.some((r) => r.code !== 'OK')) return { status: 'DEVIATED', version: 0, results };
    work.commit();
    this.answers.set(stepId, { fp, answer });
    return { status: 'APPLIED', version: 0, results };
  }
}

type Result = { code: string; moneyNano: number; units: number; covered?: number };

/** A step in progress: copies of the balances and which reservations it gave back or made. */
class StepWork {
  balances: Map<string, RefBalance>;
  released = new Set<string>();
  created = new Map<string, Reservation>();
  constructor(
    readonly model: Model,
    readonly now: number,
  ) {
    this.balances = new Map([...model.balances].map(([k, b]) => [k, { ...b }]));
  }

  list = () => [...this.balances.values()];
  free = (b: RefBalance) => b.value - b.held;

  /** A reservation stored before the step and not given back in it (one made in it is not seen). */
  stored(id: string | undefined) {
    return id === undefined || this.released.has(id) ? undefined : this.model.reservations.get(id);
  }

  release(id: string | undefined) {
    const r = this.stored(id);
    if (!r) return;
    for (const [key, amount] of r.holds) this.balances.get(key)!.held -= amount;
    this.released.add(id!);
  }

  take(moves: Move[]) {
    for (const m of moves) this.balances.get(m.key)!.value -= m.amount;
  }

  run(op: StepOp): Result {
    const r = this.verb(op);
    const code = r.code === 'OK' && op.expect === 'probe' ? 'EXPECTATION' : r.code;
    if (r.code === 'OK') r.write?.();
    return {
      code,
      moneyNano: r.moneyNano,
      units: r.units,
      ...(r.covered !== undefined ? { covered: r.covered } : {}),
    };
  }

  verb(op: StepOp): Result & { write?: () => void } {
    const c = op.charge!;
    const plan = (balances: RefBalance[], free: (b: RefBalance) => number, floor: number) =>
      planCharge(balances, c, op.priced, free, floor, this.now);
    switch (op.verb) {
      case 'debit':
        return outcome(plan(this.list(), this.free, this.model.floor), (p) => () => this.take(p.moves));
      case 'settle': {
        const res = this.stored(op.reservationId);
        const holds = res?.holds ?? new Map<string, number>();
        if (res && res.expiresMs > this.now) {
          const held = this.list().filter((b) => holds.has(keyOf(b)));
          const p = plan(held, (b) => holds.get(keyOf(b))!, 0);
          // A charge priced for other covered units than the reservation's was priced for the debit below.
          if (p.code === 'OK' || (p.code === 'NEED_PRICE' && !op.priced))
            return outcome(p, (ok) => () => (this.release(op.reservationId), this.take(ok.moves)));
        }
        // Gone, expired or too small: debited directly, what the reservation holds counted as free.
        const p = plan(this.list(), (b) => this.free(b) + (holds.get(keyOf(b)) ?? 0), this.model.floor);
        return outcome(p, (ok) => () => (this.release(op.reservationId), this.take(ok.moves)));
      }
      case 'reserve': {
        const id = op.reservationId!;
        if (this.stored(id) || this.created.has(id))
          return { code: 'RESERVATION_EXISTS', moneyNano: 0, units: 0 };
        return outcome(plan(this.list(), this.free, this.model.floor), (p) => () => {
          const holds = new Map<string, number>();
          for (const m of p.moves.filter((m) => m.amount > 0)) {
            this.balances.get(m.key)!.held += m.amount;
            holds.set(m.key, m.amount);
          }
          this.created.set(id, { expiresMs: op.expiresMs!, holds });
        });
      }
      case 'release':
        return { code: 'OK', moneyNano: 0, units: 0, write: () => this.release(op.reservationId) };
      case 'refund': {
        const wallet = this.list()
          .filter((b) => b.unit === 'money')
          .sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1))[0]!;
        return {
          code: 'OK',
          moneyNano: -c.amountNano,
          units: 0,
          write: () => void (wallet.value += c.amountNano),
        };
      }
      default:
        throw new Error(op.verb);
    }
  }

  commit() {
    this.model.balances = this.balances;
    for (const id of this.released) this.model.reservations.delete(id);
    for (const [id, r] of this.created) this.model.reservations.set(id, r);
  }
}

/** A plan as a step result: what it takes (money, units), and its writes when it goes. */
function outcome(
  p: Plan,
  write: (ok: Extract<Plan, { code: 'OK' }>) => () => void,
): Result & { write?: () => void } {
  if (p.code === 'NEED_PRICE') return { code: p.code, moneyNano: 0, units: 0, covered: p.covered };
  if (p.code !== 'OK') return { code: p.code, moneyNano: 0, units: 0 };
  const sum = (money: boolean) =>
    p.moves.filter((m) => (m.unit === 'money') === money).reduce((s, m) => s + m.amount, 0);
  return { code: 'OK', moneyNano: sum(true), units: sum(false), write: write(p) };
}

/** What two outcomes are compared on (a step's version is the session's: these steps have none). */
function comparable(o: StepOutcome) {
  if (o.status !== 'APPLIED' && o.status !== 'DEVIATED') return o;
  return {
    status: o.status,
    results: o.results.map((r) => [r.code, r.moneyNano, r.units, r.code === 'NEED_PRICE' ? r.covered : null]),
  };
}

let run = 0;

async function setUp(keyPrefix: string, type: 'prepaid' | 'postpaid', limit: number, now: () => number) {
  const store = createBalanceStore({ redis, keyPrefix, now });
  const account = { tenant: 't', type, currency: 'EUR', creditLimitNano: limit, sharedGroup: 'family' };
  await store.createAccount({ ...account, id: 'x', subject: 'x' }, 'create');
  for (const b of initialBalances()) {
    const { scope: _s, held: _h, ...fields } = b;
    await store.addBalance('t', 'x', fields, `add-${b.id}`);
  }
  return store;
}

describe('charging steps against a reference model', () => {
  it('agree on every outcome, balance and ledger entry, and keep the invariants', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('prepaid' as const, 'postpaid' as const),
        fc.array(actionArb, { minLength: 1, maxLength: 30 }),
        async (type, actions) => {
          let now = START;
          const keyPrefix = `${prefix}m${++run}:`;
          const limit = type === 'postpaid' ? 150 : 0;
          const store = await setUp(keyPrefix, type, limit, () => now);
          const model = new Model(-limit);
          const steps: { stepId: string; ops: StepOp[] }[] = [];

          for (const [i, action] of actions.entries()) {
            if (action.kind === 'tick') {
              now += action.seconds * 1000;
              continue;
            }
            if (action.kind === 'credit') {
              const key = `${action.balance === 'pool' ? 'g' : 'a'}:${action.balance}`;
              const shared = action.balance === 'pool';
              const r = await store.credit('t', 'x', {
                opId: `c${i}`,
                balanceId: action.balance,
                amount: action.amount,
                shared,
              });
              expect(r.code).toBe('OK');
              model.balances.get(key)!.value += action.amount;
              continue;
            }
            let stepId = `s${i}`;
            let ops: StepOp[];
            if (action.kind === 'again') {
              const earlier = steps[action.index % Math.max(steps.length, 1)];
              if (!earlier) continue;
              stepId = earlier.stepId;
              ops = action.other ? [{ verb: 'release', reservationId: `other${i}` }] : earlier.ops;
            } else {
              ops = action.ops.map(({ ttlSeconds, ...op }) =>
                ttlSeconds === undefined ? op : { ...op, expiresMs: now + ttlSeconds * 1000 },
              );
              steps.push({ stepId, ops });
            }
            await compareStep(store, model, stepId, ops, now, `${i}: ${JSON.stringify(ops)}`);
            await compareState(store, model, type, limit, now);
          }
          await compareLedger(store);
        },
      ),
      { numRuns: 120 },
    );
  }, 300_000);
});

/**
 * Runs one request as the charging layer does: a step, and again with the price of what bundles
 * leave uncovered while the step asks for it; both sides see every round, and the rounds end.
 */
async function compareStep(
  store: Awaited<ReturnType<typeof setUp>>,
  model: Model,
  stepId: string,
  ops: StepOp[],
  now: number,
  what: string,
) {
  const fp = JSON.stringify(ops);
  let current = ops;
  for (let round = 0; round < 4; round++) {
    const answer = `answer ${stepId}`;
    const expected = model.step(stepId, fp, answer, current, now);
    const got = await store.step('t', 'x', {
      stepId,
      fingerprint: fp,
      answer,
      retentionSeconds: 3600,
      ops: current,
    });
    expect(comparable(got), `${what} round ${round}`).toEqual(comparable(expected));
    if (got.status !== 'DEVIATED' || !got.results.some((r) => r.code === 'NEED_PRICE')) return;
    current = current.map((op, i) =>
      got.results[i]!.code === 'NEED_PRICE' ? { ...op, priced: priceRest(op, got.results[i]!.covered!) } : op,
    );
  }
  // A request is priced at most a few times (a settle beyond its reservation: twice), never forever.
  expect.fail(`${what}: still asks for a price after 4 rounds`);
}

async function compareState(
  store: Awaited<ReturnType<typeof setUp>>,
  model: Model,
  type: 'prepaid' | 'postpaid',
  limit: number,
  now: number,
) {
  const view = (await store.getAccount('t', 'x'))!;
  model.expire(now); // reading expires due reservations in the store too
  expect(view.balances.length).toBe(model.balances.size);
  for (const b of view.balances) {
    const m = model.balances.get(keyOf(b))!;
    expect([keyOf(b), b.value, b.held]).toEqual([keyOf(m), m.value, m.held]);
    const floor = b.unit === 'money' && type === 'postpaid' ? -limit : 0;
    expect(b.value - b.held).toBeGreaterThanOrEqual(floor);
  }
  const holds = (id: string, list: [string, number][]) => [id, ...list.sort()];
  const live = [...model.reservations].map(([id, r]) => holds(id, [...r.holds]));
  const stored = view.reservations.map((r) =>
    holds(
      r.id,
      r.holds.map((h): [string, number] => [`${h.scope}:${h.balanceId}`, h.amount]),
    ),
  );
  expect(stored.sort()).toEqual(live.sort());
}

/** The ledger (still in Redis) sums to every balance. */
async function compareLedger(store: Awaited<ReturnType<typeof setUp>>) {
  const stream = (await store.keysFor('t', 'x')).outbox;
  const sums = new Map<string, number>();
  for (const [, f] of await redis.xrange(stream, '-', '+')) {
    const at = f.indexOf('moves');
    if (at < 0) continue;
    for (const [scope, balance, , , delta] of f[at + 1]!.split(';').map((m) => m.split(',')))
      sums.set(`${scope}:${balance}`, (sums.get(`${scope}:${balance}`) ?? 0) + Number(delta));
  }
  for (const b of (await store.getAccount('t', 'x'))!.balances) expect(sums.get(keyOf(b))).toBe(b.value);
}
