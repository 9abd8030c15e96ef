/** Small tariff builders for table tests: one call states only what the test is about. */
import { compileTariff, type CompiledTariff } from '../../src/rating/index.js';
import type { DestinationRateBinding, RateSlot, TariffPlan, Timing } from '../../src/rating/model.js';

export const S = 1e9; // base units per second

export function slot(
  rate: string,
  rateUnitS: number,
  incrementS: number,
  startS = 0,
  connectFee = '0',
): RateSlot {
  return {
    connectFee,
    rate,
    rateUnit: rateUnitS * S,
    rateIncrement: incrementS * S,
    groupIntervalStart: startS * S,
  };
}

export function timing(
  id: string,
  startTime: string,
  weekDays: number[] = [],
  extra: Partial<Timing> = {},
): Timing {
  return { id, years: [], months: [], monthDays: [], weekDays, startTime, ...extra };
}

export interface Binding extends Partial<DestinationRateBinding> {
  destination: string;
  rate: string;
  timing?: string;
  weight?: number;
}

/** A plan "RP" for (t, call, *any) — or `profiles` — binding each entry to its rate and timing. */
export function buildPlan(opts: {
  destinations?: Record<string, string[]>;
  rates: Record<string, RateSlot[]>;
  bindings: Binding[];
  timings?: Timing[];
  timezone?: string;
  profiles?: TariffPlan['ratingProfiles'];
  extraPlans?: TariffPlan['ratingPlans'];
  extraDestinationRates?: TariffPlan['destinationRates'];
}): TariffPlan {
  const drs = opts.bindings.map((b, i) => ({
    id: `DR${i}`,
    bindings: [
      {
        destination: b.destination,
        rate: b.rate,
        roundingMethod: b.roundingMethod ?? 'middle',
        roundingDecimals: b.roundingDecimals ?? 4,
        maxCost: b.maxCost ?? '0',
        maxCostStrategy: b.maxCostStrategy ?? null,
      },
    ],
  }));
  return {
    timezone: opts.timezone ?? 'UTC',
    destinations: Object.entries(opts.destinations ?? {}).map(([id, prefixes]) => ({ id, prefixes })),
    timings: opts.timings ?? [],
    rates: Object.entries(opts.rates).map(([id, slots]) => ({ id, slots })),
    destinationRates: [...drs, ...(opts.extraDestinationRates ?? [])],
    ratingPlans: [
      {
        id: 'RP',
        bindings: opts.bindings.map((b, i) => ({
          destinationRate: `DR${i}`,
          timing: b.timing ?? '*any',
          weight: b.weight ?? 10,
        })),
      },
      ...(opts.extraPlans ?? []),
    ],
    ratingProfiles: opts.profiles ?? [
      {
        tenant: 't',
        category: 'call',
        subject: '*any',
        activations: [{ activationTime: '2020-01-01T00:00:00Z', ratingPlan: 'RP', fallbackSubjects: [] }],
      },
    ],
  };
}

export function build(opts: Parameters<typeof buildPlan>[0]): CompiledTariff {
  return compileTariff(buildPlan(opts));
}
