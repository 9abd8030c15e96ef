/** How much usage balances can pay: bundles first, money next, blockers, disconnect caps, fees. */
import { describe, expect, it } from 'vitest';
import { affordableUsage, type BalanceSnapshot } from '../../src/rating/affordable.js';
import { parseEvent, rateEvent, type CompiledTariff } from '../../src/rating/index.js';
import { build, slot, S } from '../support/plans.js';

const money = (id: string, amount: string, extra: Partial<BalanceSnapshot> = {}): BalanceSnapshot => ({
  id,
  unit: 'money',
  value: BigInt(Math.round(Number(amount) * 1e4)) * 100_000n, // test amounts have at most 4 decimals
  weight: 10,
  destinations: [],
  blocker: false,
  ...extra,
});
const minutes = (id: string, n: number, extra: Partial<BalanceSnapshot> = {}): BalanceSnapshot => ({
  id,
  unit: 'voice',
  value: BigInt(n * 60 * S),
  weight: 10,
  destinations: [],
  blocker: false,
  ...extra,
});

function afford(
  t: CompiledTariff,
  requested: number,
  balances: BalanceSnapshot[],
  destination = '+4420',
  allowNegative = false,
) {
  const ev = parseEvent({
    tenant: 't',
    category: 'call',
    subject: 'u',
    destination,
    answerTime: '2026-11-16T10:00:00Z',
    usage: requested,
    tor: 'voice',
  });
  if ('ok' in ev) throw new Error(ev.message);
  const rated = rateEvent(t, ev);
  if (!rated.ok) throw new Error(rated.message);
  return affordableUsage(rated, balances, { allowNegative });
}

const perSecond = build({
  destinations: { UK: ['+44'], FR: ['+33'] },
  rates: { R: [slot('0.6', 60, 1)], F: [slot('0.6', 60, 1, 0, '0.5')] },
  bindings: [
    { destination: 'UK', rate: 'R' },
    { destination: 'FR', rate: 'F' },
  ],
});

describe('affordable usage', () => {
  it.each([
    ['money pays 0.01 per second', [money('m', '1')], 600, 100],
    ['the request caps the answer', [money('m', '100')], 600, 600],
    ['free minutes first, then money', [minutes('free', 1), money('m', '0.1')], 600, 70],
    ['two money balances add up', [money('a', '0.05'), money('b', '0.05')], 600, 10],
    ['nothing to pay with', [], 600, 0],
  ])('%s', (_name, balances, requested, usage) => {
    expect(afford(perSecond, requested, balances).usage / S).toBe(usage);
  });

  it('a bundle restricted to other destinations is not used', () => {
    const uk = minutes('uk', 10, { destinations: ['UK'] });
    expect(afford(perSecond, 600, [uk], '+4420').usage / S).toBe(600);
    expect(afford(perSecond, 600, [uk, money('m', '0.6')], '+33123').usage / S).toBe(10); // fee 0.5 first
  });

  it('the connect fee is paid first or nothing is granted', () => {
    expect(afford(perSecond, 60, [money('m', '0.4')], '+33123').usage).toBe(0);
  });

  it('a blocker that cannot pay stops the chain', () => {
    const blocker = money('b', '0', { weight: 20, blocker: true });
    expect(afford(perSecond, 60, [blocker, money('m', '10')]).usage).toBe(0);
    expect(afford(perSecond, 60, [{ ...blocker, blocker: false }, money('m', '10')]).usage / S).toBe(60);
  });

  it('a disconnect max cost limits the usage', () => {
    const t = build({
      destinations: { UK: ['+44'] },
      rates: { R: [slot('1', 1, 1)] },
      bindings: [{ destination: 'UK', rate: 'R', maxCost: '10', maxCostStrategy: 'disconnect' }],
    });
    expect(afford(t, 1800, [money('m', '1000')]).usage / S).toBe(10);
  });

  it('an account allowed to go negative gets what it asks', () => {
    expect(afford(perSecond, 600, [], '+4420', true).usage / S).toBe(600);
  });

  it('says what moved from which balance, exactly', () => {
    const r = afford(perSecond, 30, [minutes('free', 0.25), money('m', '1')]);
    expect(r.movements.map((m) => [m.balanceId, m.num / m.den])).toEqual([
      ['free', BigInt(15 * S)],
      ['m', 150_000_000n], // 15 s x 0.01
    ]);
  });
});

/** CGRateS-style bundle destinations no rate uses: all of the UK, and Vodafone UK mobiles. */
const national = build({
  destinations: { UK: ['+44'], UK_MOBILE: ['+447'], UK_MOBILE_VF: ['+447700'] },
  rates: { R: [slot('0.6', 60, 1)] },
  bindings: [{ destination: 'UK_MOBILE', rate: 'R' }],
});
const paid = (r: ReturnType<typeof afford>) =>
  r.movements.map((m) => [m.balanceId, m.num / m.den / BigInt(S)]);

describe('which balance pays (docs/BALANCES.md)', () => {
  it('a national bundle pays for a call rated by a narrower destination', () => {
    const uk = minutes('uk', 10, { destinations: ['UK'] });
    expect(afford(national, 600, [uk], '+447911123456').usage / S).toBe(600);
  });

  it('an excluded destination holding a prefix keeps the bundle out', () => {
    const uk = minutes('uk', 10, { destinations: ['UK', '!UK_MOBILE_VF'] });
    expect(afford(national, 600, [uk], '+447700900123').usage).toBe(0);
    expect(afford(national, 600, [uk], '+447911123456').usage / S).toBe(600);
    const notVf = minutes('x', 10, { destinations: ['!UK_MOBILE_VF'] });
    expect(afford(national, 60, [notVf], '+447911123456').usage / S).toBe(60);
  });

  it('the most specific match pays first, then the heaviest, then the soonest to expire', () => {
    const uk = minutes('uk', 10, { destinations: ['UK'], weight: 50 });
    const vf = minutes('vf', 10, { destinations: ['UK_MOBILE_VF'], weight: 0 });
    expect(paid(afford(national, 60, [uk, vf], '+447700900123'))).toEqual([['vf', 60n]]);
    const late = minutes('late', 10, { expiryMs: 2_000 });
    const soon = minutes('soon', 10, { expiryMs: 1_000 });
    const never = minutes('never', 10);
    expect(paid(afford(national, 60, [never, late, soon], '+447911123456'))).toEqual([['soon', 60n]]);
  });

  it('a unit blocker that cannot pay all stops the chain: money does not pay after it', () => {
    const b = minutes('b', 0.5, { blocker: true, destinations: ['UK'] });
    expect(afford(national, 60, [b, money('m', '10')], '+447911123456').usage / S).toBe(30);
  });

  it('a *zero1m bundle is consumed in whole minutes, free', () => {
    const z = minutes('z', 1.5, { unitIncrement: 60 * S });
    const r = afford(perSecond, 90, [z]);
    expect(r.usage / S).toBe(60);
    expect(paid(afford(perSecond, 30, [z]))).toEqual([['z', 60n]]);
  });
});
