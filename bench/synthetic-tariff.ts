/**
 * A synthetic tariff of any size for benchmarks: `prefixCount` E.164-style prefixes spread over
 * destinations of 100 prefixes each, every destination priced peak / off-peak, a data rate.
 */
import { rng } from '../src/random.js';

import type { TariffPlan } from '../src/rating/model.js';

const S = 1e9;

export function syntheticPlan(prefixCount: number, seed = 1): { plan: TariffPlan; prefixes: string[] } {
  const rand = rng(seed);
  const seen = new Set<string>();
  while (seen.size < prefixCount) {
    const len = 4 + Math.floor(rand() * 6);
    let p = '+';
    for (let i = 0; i < len; i++) p += Math.floor(rand() * 10);
    seen.add(p);
  }
  const prefixes = [...seen];
  const destinations = [];
  for (let i = 0; i < prefixes.length; i += 100)
    destinations.push({ id: `D${i / 100}`, prefixes: prefixes.slice(i, i + 100) });
  const binding = (destination: string, rate: string) => ({
    destination,
    rate,
    roundingMethod: 'up' as const,
    roundingDecimals: 4,
    maxCost: '0',
    maxCostStrategy: null,
  });
  return {
    prefixes,
    plan: {
      timezone: 'UTC',
      destinations,
      timings: [
        {
          id: 'PEAK',
          years: [],
          months: [],
          monthDays: [],
          weekDays: [1, 2, 3, 4, 5],
          startTime: '08:00:00',
        },
        {
          id: 'OFFPEAK',
          years: [],
          months: [],
          monthDays: [],
          weekDays: [1, 2, 3, 4, 5],
          startTime: '19:00:00',
        },
        { id: 'NIGHT', years: [], months: [], monthDays: [], weekDays: [], startTime: '00:00:00' },
      ],
      rates: [
        {
          id: 'PEAK',
          slots: [
            {
              connectFee: '0.05',
              rate: '0.12',
              rateUnit: 60 * S,
              rateIncrement: 60 * S,
              groupIntervalStart: 0,
            },
            { connectFee: '0', rate: '0.06', rateUnit: 60 * S, rateIncrement: S, groupIntervalStart: 60 * S },
          ],
        },
        {
          id: 'OFF',
          slots: [
            { connectFee: '0.05', rate: '0.03', rateUnit: 60 * S, rateIncrement: S, groupIntervalStart: 0 },
          ],
        },
        {
          id: 'DATA',
          slots: [
            { connectFee: '0', rate: '0.01', rateUnit: 1048576, rateIncrement: 1024, groupIntervalStart: 0 },
          ],
        },
      ],
      destinationRates: [
        { id: 'DR_PEAK', bindings: destinations.map((d) => binding(d.id, 'PEAK')) },
        { id: 'DR_OFF', bindings: destinations.map((d) => binding(d.id, 'OFF')) },
        { id: 'DR_DATA', bindings: [binding('*any', 'DATA')] },
      ],
      ratingPlans: [
        {
          id: 'RP',
          bindings: [
            { destinationRate: 'DR_PEAK', timing: 'PEAK', weight: 10 },
            { destinationRate: 'DR_OFF', timing: 'OFFPEAK', weight: 10 },
            { destinationRate: 'DR_OFF', timing: 'NIGHT', weight: 5 },
          ],
        },
        { id: 'RP_DATA', bindings: [{ destinationRate: 'DR_DATA', timing: '*any', weight: 10 }] },
      ],
      ratingProfiles: [
        {
          tenant: 'acme',
          category: 'call',
          subject: '*any',
          activations: [{ activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: [] }],
        },
        {
          tenant: 'acme',
          category: 'data',
          subject: '*any',
          activations: [
            { activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP_DATA', fallbackSubjects: [] },
          ],
        },
      ],
    },
  };
}
