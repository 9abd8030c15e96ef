/**
 * The tariff model: what a tariff plan *is*, independent of where it came from.
 *
 * Both tariff sources (the native folder in `tariffs/` and a CGRateS CSV folder) produce a
 * `TariffPlan`. The rating core compiles it once (`compileTariff`) into indexes and then prices
 * events against the compiled form. Everything here is plain data: no classes, no I/O.
 *
 * Quantities (rate units, increments, group interval starts) are integers in **base units**, the
 * same convention CGRateS uses: one nanosecond of time, one byte of data, one message or one
 * generic unit. So `60s` is 60_000_000_000 and a bare `1024` is 1024 bytes (or messages). An
 * event's usage is converted to base units at the edge (`usageToBase` in `units.ts`).
 *
 * Money amounts are decimal strings ("0.05", "1"), exact; the core parses them into integers.
 */

export type Tor = 'voice' | 'data' | 'sms' | 'generic';

export type RoundingMethod = 'up' | 'down' | 'middle';

export type MaxCostStrategy = 'free' | 'disconnect';

/** The reserved id used for "any destination" bindings and "always" timings. */
export const ANY = '*any';

export interface Destination {
  id: string;
  /** Matched against the start of the dialled number, character by character. */
  prefixes: string[];
}

export interface Timing {
  id: string;
  /** Empty list = any. */
  years: number[];
  /** 1..12; empty = any. */
  months: number[];
  /** 1..31; empty = any. */
  monthDays: number[];
  /** ISO week days, 1 = Monday .. 7 = Sunday; empty = any. */
  weekDays: number[];
  /** "HH:MM:SS", when the timing begins on a matching day (it has no end). */
  startTime: string;
}

export interface RateSlot {
  /** Decimal string. Only the first slot's connect fee counts (CGRateS reads slot 0). */
  connectFee: string;
  /** Decimal string: the price of one `rateUnit` of usage. */
  rate: string;
  /** Base units; 0 means 1. */
  rateUnit: number;
  /** Base units; usage in the slot is charged in whole increments, rounded up; 0 means 1. */
  rateIncrement: number;
  /** Base units of elapsed usage (from the start of the event) at which this slot takes over. */
  groupIntervalStart: number;
}

export interface Rate {
  id: string;
  /** Sorted by `groupIntervalStart` ascending by the loaders. */
  slots: RateSlot[];
}

export interface DestinationRateBinding {
  /** A destination id, or `*any`. */
  destination: string;
  /** A rate id. */
  rate: string;
  roundingMethod: RoundingMethod;
  /** May be large (20) or negative (-1 rounds to tens). */
  roundingDecimals: number;
  /** Decimal string; "0" = no cap. */
  maxCost: string;
  maxCostStrategy: MaxCostStrategy | null;
}

export interface DestinationRate {
  id: string;
  bindings: DestinationRateBinding[];
}

export interface RatingPlanBinding {
  /** A destination-rate id. */
  destinationRate: string;
  /** A timing id, or `*any`. */
  timing: string;
  /** Higher wins. */
  weight: number;
}

export interface RatingPlan {
  id: string;
  bindings: RatingPlanBinding[];
}

export interface Activation {
  /** ISO-8601 with offset. */
  activationTime: string;
  /** A rating plan id. */
  ratingPlan: string;
  /** Subjects tried (same tenant and category) when this plan does not price the number. */
  fallbackSubjects: string[];
}

export interface RatingProfile {
  tenant: string;
  category: string;
  /** A subject, or `*any` (the tenant+category default). */
  subject: string;
  activations: Activation[];
}

/** A number rule: where it matches, the number's match is replaced (number-format.ts). */
export interface NumberRule {
  /** Names the rule in problems and docs. */
  id: string;
  /** A JavaScript regular expression anchored at the start (`^`), checked by `patternProblem`. */
  match: string;
  /** The replacement; `$1`… name the match's groups. */
  replace: string;
}

/** Which requested/used unit field counts: `totalOctets` falls back to input + output octets. */
export type UsageField = 'time' | 'totalOctets' | 'inputOctets' | 'outputOctets' | 'serviceSpecificUnits';

/** What a service context is rated as (service-kinds.ts). */
export interface ServiceKind {
  category: string;
  tor: Tor;
  usage: UsageField;
}

/** How the network's requests are read before rating (the folder's network.json). */
export interface NetworkConfig {
  /** Ordered number rules per tenant (`*any`: tenants without their own): number-format.ts. */
  numbers?: Record<string, NumberRule[]>;
  /** Service contexts over the four 3GPP defaults: service-kinds.ts. */
  serviceContexts?: Record<string, ServiceKind>;
}

export interface TariffPlan {
  /** IANA time zone in which timings (days, start times) are read. Default "UTC". */
  timezone: string;
  network?: NetworkConfig;
  destinations: Destination[];
  timings: Timing[];
  rates: Rate[];
  destinationRates: DestinationRate[];
  ratingPlans: RatingPlan[];
  ratingProfiles: RatingProfile[];
}
