/**
 * Table tests, one block per rating rule. Each tariff is built in a few lines so the rule under
 * test is visible; prices are worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { rateObject } from '../../src/cli/rate-lines.js';
import { compileTariff, rateEvent, parseEvent, type CompiledTariff } from '../../src/rating/index.js';
import { build, buildPlan, slot, timing, S } from '../support/plans.js';

// 2026-11-16 is a Monday, 2026-11-20 a Friday, 2026-11-21 a Saturday.
const MON = '2026-11-16';

function price(t: CompiledTariff, ev: Record<string, unknown>): string {
  const out = rateObject(t, {
    id: 1,
    tenant: 't',
    category: 'call',
    subject: 'u1',
    destination: '+441234',
    answerTime: `${MON}T10:00:00Z`,
    tor: 'voice',
    ...ev,
  });
  return 'error' in out ? out.error.code : out.cost;
}

function breakdown(t: CompiledTariff, ev: Record<string, unknown>) {
  const out = rateObject(t, {
    id: 1,
    tenant: 't',
    category: 'call',
    subject: 'u1',
    destination: '+441234',
    answerTime: `${MON}T10:00:00Z`,
    tor: 'voice',
    ...ev,
  });
  if ('error' in out) throw new Error(out.error.message);
  return out;
}

const UK = { UK: ['+44'] };

describe('connect fee', () => {
  const t = build({
    destinations: UK,
    rates: { R: [slot('0.1', 60, 1, 0, '0.5'), slot('0.1', 60, 1, 60, '9')] },
    bindings: [{ destination: 'UK', rate: 'R' }],
  });
  it.each([
    [30, '0.55'], // 0.5 + 30 x 0.1/60
    [90, '0.65'], // the second slot's fee (9) is ignored: only slot 0 carries the fee
    [0, '0'], // zero usage: no connect fee
  ])('%ss costs %s', (usage, cost) => expect(price(t, { usage })).toBe(cost));

  it('is not charged on a later segment of a session', () => {
    const ev = parseEvent({
      tenant: 't',
      category: 'call',
      subject: 'u1',
      destination: '+441',
      answerTime: `${MON}T10:00:00Z`,
      usage: 30,
      tor: 'voice',
    });
    if ('ok' in ev) throw new Error(ev.message);
    const r = rateEvent(t, { ...ev, firstSegment: false });
    expect(r.ok && r.costNano).toBe(50_000_000n);
  });
});

describe('increments', () => {
  it.each([
    ['per second', slot('0.6', 60, 1), 61, '0.61', 61],
    ['per minute', slot('0.6', 60, 60), 61, '1.2', 120],
    ['30 s steps', slot('0.6', 60, 30), 45, '0.6', 60],
    ['exact multiple', slot('0.6', 60, 30), 60, '0.6', 60],
  ])('%s', (_name, s, usage, cost, ratedUsage) => {
    const t = build({ destinations: UK, rates: { R: [s] }, bindings: [{ destination: 'UK', rate: 'R' }] });
    expect(price(t, { usage })).toBe(cost);
    expect(breakdown(t, { usage }).ratedUsage).toBe(ratedUsage);
  });

  it('data in 1 KiB increments at 0.01 per MiB', () => {
    const t = build({
      rates: {
        D: [{ connectFee: '0', rate: '0.01', rateUnit: 1048576, rateIncrement: 1024, groupIntervalStart: 0 }],
      },
      bindings: [{ destination: '*any', rate: 'D', roundingDecimals: 9, roundingMethod: 'up' }],
    });
    // 1500 bytes -> 2048 bytes charged -> 2048 x 0.01 / 1048576 = 0.00001953125 -> up at 9 dp
    expect(price(t, { tor: 'data', destination: '', usage: 1500 })).toBe('0.000019532');
    expect(price(t, { tor: 'data', destination: '', usage: 1048576 })).toBe('0.01');
  });

  it('sms per message', () => {
    const t = build({
      rates: { M: [{ connectFee: '0', rate: '0.05', rateUnit: 1, rateIncrement: 1, groupIntervalStart: 0 }] },
      bindings: [{ destination: '*any', rate: 'M' }],
    });
    expect(price(t, { tor: 'sms', usage: 3 })).toBe('0.15');
  });
});

describe('slots (group interval start)', () => {
  // First minute charged whole at 0.6/min, then 0.06/min per second.
  const t = build({
    destinations: UK,
    rates: { R: [slot('0.6', 60, 60), slot('0.06', 60, 1, 60)] },
    bindings: [{ destination: 'UK', rate: 'R' }],
  });
  it.each([
    [1, '0.6'],
    [59, '0.6'],
    [60, '0.6'],
    [61, '0.601'],
    [120, '0.66'],
  ])('%ss costs %s', (usage, cost) => expect(price(t, { usage })).toBe(cost));

  it('an increment that overruns the slot boundary swallows the next slot', () => {
    // 45 s steps until 60 s, then per second: 70 s -> [0,60) needs two 45 s steps = 90 s; [60,70) is covered.
    const t2 = build({
      destinations: UK,
      rates: { R: [slot('0.6', 60, 45), slot('0.06', 60, 1, 60)] },
      bindings: [{ destination: 'UK', rate: 'R' }],
    });
    expect(price(t2, { usage: 70 })).toBe('0.9');
    expect(breakdown(t2, { usage: 70 }).spans).toHaveLength(1);
  });
});

describe('rounding happens once, on the total', () => {
  const make = (roundingMethod: 'up' | 'down' | 'middle', roundingDecimals: number) =>
    build({
      destinations: UK,
      rates: { R: [slot('0.01', 60, 1)] },
      bindings: [{ destination: 'UK', rate: 'R', roundingMethod, roundingDecimals }],
    });
  it.each([
    ['up', 4, 7, '0.0012'], // 7 x 0.01/60 = 0.0011666...
    ['down', 4, 7, '0.0011'],
    ['middle', 4, 7, '0.0012'],
    ['middle', 4, 3, '0.0005'], // 0.0005 exactly
    ['up', 2, 1, '0.01'],
    ['down', 2, 59, '0'],
    ['middle', 0, 3600, '1'] as const, // 0.6 -> 1
    ['down', -1, 60 * 60 * 30, '10'] as const, // 18 -> 10
  ] as const)('%s to %s decimals, %ss -> %s', (method, decimals, usage, cost) => {
    expect(price(make(method, decimals), { usage })).toBe(cost);
  });

  it('does not drift per increment (0.05/min for 24 s is exactly 0.02)', () => {
    const t = build({
      destinations: UK,
      rates: { R: [slot('0.05', 60, 1, 0, '0.15')] },
      bindings: [{ destination: 'UK', rate: 'R', roundingMethod: 'up', roundingDecimals: 9 }],
    });
    expect(price(t, { usage: 24 })).toBe('0.17');
  });
});

describe('timings', () => {
  const timings = [
    timing('PEAK', '08:00:00', [1, 2, 3, 4, 5]),
    timing('EVENING', '19:00:00', [1, 2, 3, 4, 5]),
    timing('NIGHT', '00:00:00', [1, 2, 3, 4, 5]),
    timing('WEEKEND', '00:00:00', [6, 7]),
    timing('XMAS', '00:00:00', [], { months: [12], monthDays: [25] }),
  ];
  const rates = {
    P: [slot('0.6', 60, 1)],
    O: [slot('0.3', 60, 1)],
    W: [slot('0.1', 60, 1)],
    X: [slot('0', 60, 1)],
  };
  const bindings = [
    { destination: 'UK', rate: 'P', timing: 'PEAK' },
    { destination: 'UK', rate: 'O', timing: 'EVENING' },
    { destination: 'UK', rate: 'O', timing: 'NIGHT' },
    { destination: 'UK', rate: 'W', timing: 'WEEKEND' },
    { destination: 'UK', rate: 'X', timing: 'XMAS', weight: 20 },
  ];
  const t = build({ destinations: UK, rates, bindings, timings });

  it.each([
    ['Monday 07:59 + 2 min: one off-peak, one peak minute', `${MON}T07:59:00Z`, 120, '0.9'],
    ['Monday 18:59 + 2 min: one peak, one evening minute', `${MON}T18:59:00Z`, 120, '0.9'],
    ['Friday 23:59 + 2 min: off-peak then weekend', '2026-11-20T23:59:00Z', 120, '0.4'],
    ['Saturday noon', '2026-11-21T12:00:00Z', 60, '0.1'],
    ['Christmas (a Friday) outweighs peak', '2026-12-25T10:00:00Z', 600, '0'],
    ['Christmas Eve 23:59 + 2 min: one evening minute, then free', '2026-12-24T23:59:00Z', 120, '0.3'],
  ])('%s', (_name, answerTime, usage, cost) => expect(price(t, { answerTime, usage })).toBe(cost));

  it('a lower-weight timing starting later does not cut the span', () => {
    const t2 = build({
      destinations: UK,
      rates,
      timings: [timing('DAY', '00:00:00'), timing('LATE', '12:00:00')],
      bindings: [
        { destination: 'UK', rate: 'P', timing: 'DAY', weight: 20 },
        { destination: 'UK', rate: 'W', timing: 'LATE', weight: 10 },
      ],
    });
    expect(breakdown(t2, { answerTime: `${MON}T11:59:00Z`, usage: 120 }).spans).toHaveLength(1);
  });

  it('reads days and start times in the tariff time zone', () => {
    const plan = buildPlan({ destinations: UK, rates, bindings, timings, timezone: 'Europe/Berlin' });
    const berlin = compileTariff(plan);
    // 07:30Z is 08:30 in Berlin (UTC+1 in November): peak there, night in UTC.
    expect(price(berlin, { answerTime: `${MON}T07:30:00Z`, usage: 60 })).toBe('0.6');
    expect(price(t, { answerTime: `${MON}T07:30:00Z`, usage: 60 })).toBe('0.3');
    // The same instant written with another offset is the same instant.
    expect(price(berlin, { answerTime: `${MON}T08:30:00+01:00`, usage: 60 })).toBe('0.6');
  });

  it('data takes the rate in force at the start for all its usage', () => {
    const td = build({
      rates: { P: [slot('1', 1, 1)], O: [slot('2', 1, 1)] },
      timings,
      bindings: [
        { destination: '*any', rate: 'P', timing: 'PEAK' },
        { destination: '*any', rate: 'O', timing: 'NIGHT' },
      ],
    });
    // 07:59:59 + a large volume: priced all at the night rate, no split at 08:00.
    expect(price(td, { tor: 'data', destination: '', answerTime: `${MON}T07:59:59Z`, usage: 10 * S })).toBe(
      String((10 * S * 2) / 1e9),
    );
  });

  it('cuts a voice call at midnight; a long increment overruns into the next day', () => {
    const tm = build({
      destinations: UK,
      rates: { R: [slot('1', 60, 60)] },
      bindings: [{ destination: 'UK', rate: 'R' }],
    });
    // 23:59:30 + 40 s: first span 30 s -> one 60 s step reaching 00:00:30 covers the rest.
    const b = breakdown(tm, { answerTime: `${MON}T23:59:30Z`, usage: 40 });
    expect(b.cost).toBe('1');
    expect(b.ratedUsage).toBe(60);
    // 23:59:30 + 100 s: 60 s (to 00:00:30), then the next day's span starts at 00:00:30 with 40 s
    // left -> one more 60 s step: 2 minutes (without the midnight cut it would be 2 as well).
    expect(price(tm, { answerTime: `${MON}T23:59:30Z`, usage: 100 })).toBe('2');
    expect(breakdown(tm, { answerTime: `${MON}T23:59:30Z`, usage: 100 }).spans.map((s) => s.from)).toEqual([
      0, 60,
    ]);
  });
});

describe('destinations: longest prefix', () => {
  const t = build({
    destinations: { UK: ['+44'], UK_MOBILE: ['+447'], UK_VODA: ['+4479'], ANYWHERE: [] },
    rates: { A: [slot('1', 60, 60)], B: [slot('2', 60, 60)], C: [slot('5', 60, 60)] },
    bindings: [
      { destination: 'UK', rate: 'A' },
      { destination: 'UK_MOBILE', rate: 'B' },
      { destination: '*any', rate: 'C' },
    ],
  });
  it.each([
    ['+4420', 'UK', '+44'],
    ['+447700', 'UK_MOBILE', '+447'],
    ['+447911', 'UK_MOBILE', '+447'], // +4479 exists but the plan does not price UK_VODA
    ['+33123', '*any', '*any'],
  ])('%s -> %s', (destination, dest, prefix) => {
    const b = breakdown(t, { destination, usage: 60 });
    expect([b.destination, b.matchedPrefix]).toEqual([dest, prefix]);
  });

  it('without an *any binding an unknown number is refused', () => {
    const t2 = build({
      destinations: UK,
      rates: { A: [slot('1', 60, 60)] },
      bindings: [{ destination: 'UK', rate: 'A' }],
    });
    expect(price(t2, { destination: '+33123', usage: 60 })).toBe('UNAUTHORIZED_DESTINATION');
  });

  it('a prefix in two destinations goes to the heavier binding in force', () => {
    const timings = [timing('PEAK', '08:00:00', [1, 2, 3, 4, 5])];
    const t3 = build({
      destinations: { NAT: ['0723'], RET: ['0723'] },
      rates: { A: [slot('1', 1, 1)], B: [slot('2', 1, 1)] },
      timings,
      bindings: [
        { destination: 'NAT', rate: 'A', weight: 10 },
        { destination: 'RET', rate: 'B', weight: 20, timing: 'PEAK' },
      ],
    });
    expect(
      breakdown(t3, { destination: '0723999', usage: 1, answerTime: `${MON}T09:00:00Z` }).destination,
    ).toBe('RET');
    expect(
      breakdown(t3, { destination: '0723999', usage: 1, answerTime: `${MON}T07:00:00Z` }).destination,
    ).toBe('NAT');
  });
});

describe('max cost', () => {
  const make = (maxCostStrategy: 'free' | 'disconnect') =>
    build({
      destinations: UK,
      rates: { R: [slot('0.6', 60, 1, 0, '0.1')] },
      bindings: [{ destination: 'UK', rate: 'R', maxCost: '0.5', maxCostStrategy }],
    });
  it('free caps the total, connect fee included', () => {
    expect(price(make('free'), { usage: 30 })).toBe('0.4');
    expect(price(make('free'), { usage: 40 })).toBe('0.5');
    expect(price(make('free'), { usage: 3600 })).toBe('0.5');
    expect(breakdown(make('free'), { usage: 3600 }).maxCost).toEqual({
      amount: '0.5',
      strategy: 'free',
      applied: true,
    });
  });
  it('disconnect never changes a price', () =>
    expect(price(make('disconnect'), { usage: 3600 })).toBe('36.1'));
});

describe('profiles, activations and fallback subjects', () => {
  const rates = { A: [slot('1', 60, 60)], B: [slot('2', 60, 60)] };
  const plan = buildPlan({
    destinations: { UK: ['+44'], FR: ['+33'] },
    rates,
    bindings: [{ destination: 'UK', rate: 'A' }],
    extraDestinationRates: [
      {
        id: 'DR_FR',
        bindings: [
          {
            destination: 'FR',
            rate: 'B',
            roundingMethod: 'middle',
            roundingDecimals: 4,
            maxCost: '0',
            maxCostStrategy: null,
          },
        ],
      },
    ],
    extraPlans: [{ id: 'RP_FR', bindings: [{ destinationRate: 'DR_FR', timing: '*any', weight: 10 }] }],
    profiles: [
      {
        tenant: 't',
        category: 'call',
        subject: 'u1',
        activations: [
          { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: ['*any'] },
        ],
      },
      {
        tenant: 't',
        category: 'call',
        subject: 'u2',
        activations: [{ activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: [] }],
      },
      {
        tenant: 't',
        category: 'call',
        subject: '*any',
        activations: [{ activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP_FR', fallbackSubjects: [] }],
      },
      {
        tenant: 't',
        category: 'call',
        subject: 'u3',
        activations: [
          { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: [] },
          { activationTime: `${MON}T12:00:00Z`, ratingPlan: 'RP_FR', fallbackSubjects: [] },
        ],
      },
    ],
  });
  const t = compileTariff(plan);
  it.each([
    ['own plan prices the number', 'u1', '+44', '1', 'u1'],
    ['fallback subject *any prices what the own plan does not', 'u1', '+33', '2', '*any'],
    ['no fallback listed: refused', 'u2', '+33', 'UNAUTHORIZED_DESTINATION', null],
    ['a subject without a profile uses *any', 'nobody', '+33', '2', '*any'],
  ])('%s', (_name, subject, destination, cost, usedSubject) => {
    expect(price(t, { subject, destination, usage: 60 })).toBe(cost);
    if (usedSubject) expect(breakdown(t, { subject, destination, usage: 60 }).subject).toBe(usedSubject);
  });

  it('no profile for the tenant at all: RATING_PLAN_NOT_FOUND', () => {
    expect(price(t, { tenant: 'other', usage: 60 })).toBe('RATING_PLAN_NOT_FOUND');
  });

  it('the activation in force at the answer time applies', () => {
    expect(price(t, { subject: 'u3', destination: '+33', usage: 60, answerTime: `${MON}T11:00:00Z` })).toBe(
      'UNAUTHORIZED_DESTINATION',
    );
    expect(price(t, { subject: 'u3', destination: '+33', usage: 60, answerTime: `${MON}T12:00:00Z` })).toBe(
      '2',
    );
  });

  it('a call across an activation is split and each part priced by its plan', () => {
    const both = compileTariff({
      ...plan,
      ratingProfiles: [
        {
          tenant: 't',
          category: 'call',
          subject: 'u4',
          activations: [
            { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: [] },
            { activationTime: `${MON}T12:00:00Z`, ratingPlan: 'RP_CHEAP', fallbackSubjects: [] },
          ],
        },
      ],
      ratingPlans: [
        ...plan.ratingPlans,
        { id: 'RP_CHEAP', bindings: [{ destinationRate: 'DR_UK_CHEAP', timing: '*any', weight: 10 }] },
      ],
      destinationRates: [
        ...plan.destinationRates,
        {
          id: 'DR_UK_CHEAP',
          bindings: [
            {
              destination: 'UK',
              rate: 'C',
              roundingMethod: 'middle',
              roundingDecimals: 4,
              maxCost: '0',
              maxCostStrategy: null,
            },
          ],
        },
      ],
      rates: [...plan.rates, { id: 'C', slots: [slot('0.5', 60, 60)] }],
    });
    const b = breakdown(both, { subject: 'u4', usage: 180, answerTime: `${MON}T11:59:00Z` });
    expect(b.cost).toBe('2'); // 1 minute at 1 + 2 minutes at 0.5
    expect(b.segments?.map((s) => s.ratingPlan)).toEqual(['RP', 'RP_CHEAP']);
  });

  it('fallback chains stop at depth 3', () => {
    const chain = (s: string, next: string[]) => ({
      tenant: 't',
      category: 'call',
      subject: s,
      activations: [{ activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: next }],
    });
    const deep = compileTariff({
      ...plan,
      ratingProfiles: [
        chain('a', ['b']),
        chain('b', ['c']),
        chain('c', ['d']),
        {
          ...chain('d', []),
          activations: [
            { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP_FR', fallbackSubjects: [] },
          ],
        },
        chain('e', ['f']),
        chain('f', ['g']),
        {
          ...chain('g', []),
          activations: [
            { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP_FR', fallbackSubjects: [] },
          ],
        },
      ],
    });
    expect(price(deep, { subject: 'a', destination: '+33', usage: 60 })).toBe('2'); // a -> b -> c -> d (depth 3)
    expect(price(deep, { subject: 'e', destination: '+33', usage: 60 })).toBe('2');
    const deeper = compileTariff({
      ...plan,
      ratingProfiles: [
        chain('a', ['b']),
        chain('b', ['c']),
        chain('c', ['d']),
        chain('d', ['e']),
        {
          ...chain('e', []),
          activations: [
            { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP_FR', fallbackSubjects: [] },
          ],
        },
      ],
    });
    expect(price(deeper, { subject: 'a', destination: '+33', usage: 60 })).toBe('UNAUTHORIZED_DESTINATION');
  });
});

describe('invalid events name the field', () => {
  const t = build({
    destinations: UK,
    rates: { R: [slot('1', 60, 60)] },
    bindings: [{ destination: 'UK', rate: 'R' }],
  });
  it.each([
    [{ tenant: undefined }, 'tenant'],
    [{ answerTime: '2026-11-16T10:00:00' }, 'answerTime'],
    [{ answerTime: 'yesterday' }, 'answerTime'],
    [{ usage: -1 }, 'usage'],
    [{ usage: '60' }, 'usage'],
    [{ usage: 1e9 }, 'usage'],
    [{ tor: 'fax' }, 'tor'],
    [{ tor: 'data', usage: 1.5 }, 'usage'],
    [{ id: undefined }, 'id'],
  ])('%o -> INVALID_EVENT on %s', (patch, field) => {
    const out = rateObject(t, {
      id: 1,
      tenant: 't',
      category: 'call',
      subject: 'u',
      destination: '+44',
      answerTime: `${MON}T10:00:00Z`,
      usage: 60,
      tor: 'voice',
      ...patch,
    });
    expect(out).toMatchObject({ error: { code: 'INVALID_EVENT', field } });
  });
  it('accepts the CGRateS names of the types of record', () => {
    expect(price(t, { tor: '*voice', usage: 60 })).toBe('1');
  });
});
