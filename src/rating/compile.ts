/**
 * Compiles a validated `TariffPlan` once into the indexes the rating hot path reads:
 * a prefix map (longest-prefix match in time independent of the number of prefixes), per-plan
 * binding lists by destination, rates as exact rationals, profiles by (tenant, category, subject).
 */
import { makeCalendar, type Calendar } from './calendar.js';
import { ANY, type RoundingMethod, type MaxCostStrategy, type TariffPlan, type Timing } from './model.js';
import { parseDecimal, pow10, type Decimal } from './money.js';
import { buildPrefixIndex, type PrefixIndex } from './prefix-index.js';
import { compileNumberRules, type CompiledNumberRules } from './number-format.js';
import { compileServiceKinds, type ServiceKinds } from './service-kinds.js';

export interface CompiledTiming {
  id: string;
  /** True for `*any`: every day, from 00:00:00. */
  always: boolean;
  years: ReadonlySet<number> | null;
  months: ReadonlySet<number> | null;
  monthDays: ReadonlySet<number> | null;
  weekDays: ReadonlySet<number> | null;
  /** Seconds after local midnight. */
  startSecond: number;
}

export interface CompiledSlot {
  rate: string;
  rateUnit: number;
  rateIncrement: number;
  groupIntervalStart: number;
  /** The slot's price per base unit is rateNum / rateDen, exactly. */
  rateNum: bigint;
  rateDen: bigint;
}

export interface CompiledRate {
  id: string;
  slots: CompiledSlot[];
  /** From the first slot only, as CGRateS does. */
  connectFee: Decimal;
}

export interface CompiledBinding {
  destination: string;
  destinationRate: string;
  timing: CompiledTiming;
  weight: number;
  rate: CompiledRate;
  roundingMethod: RoundingMethod;
  roundingDecimals: number;
  /** null when the binding has no cap ("0"). */
  maxCost: Decimal | null;
  maxCostStrategy: MaxCostStrategy | null;
}

/** The bindings of one destination in one plan; `constant` is set when time never changes the choice. */
export interface BindingSet {
  bindings: CompiledBinding[];
  constant: CompiledBinding | null;
  /** True when some binding is in force at every instant (so matching needs no timing check). */
  alwaysCovered: boolean;
  /** Memo of the binding changes per local day (timeline.ts), bounded; and the last day asked. */
  days: Map<number, { startMs: number; binding: CompiledBinding }[]>;
  lastDay: number;
  lastChanges: { startMs: number; binding: CompiledBinding }[];
}

export interface CompiledPlan {
  id: string;
  /** Destination index -> bindings (undefined: the plan does not price that destination). */
  byDestination: (BindingSet | undefined)[];
  any: BindingSet | null;
}

export interface CompiledActivation {
  activationTime: string;
  atMs: number;
  plan: CompiledPlan;
  fallbackSubjects: string[];
}

export interface CompiledProfile {
  tenant: string;
  category: string;
  subject: string;
  /** Sorted by time, ascending. */
  activations: CompiledActivation[];
}

export interface CompiledTariff {
  calendar: Calendar;
  destinationIds: string[];
  /** Prefix -> indexes into destinationIds of every destination holding that prefix. */
  prefixes: PrefixIndex;
  /** tenant -> category -> subject -> profile (nested: no key strings built per event). */
  profiles: Map<string, Map<string, Map<string, CompiledProfile>>>;
  /** Per tenant, the rules that turn a number as sent into the number rated (network.json). */
  numbers: CompiledNumberRules;
  /** Service context id -> what it is rated as (network.json over the 3GPP defaults). */
  serviceKinds: ServiceKinds;
  counts: {
    destinations: number;
    prefixes: number;
    rates: number;
    ratingPlans: number;
    ratingProfiles: number;
  };
}

export function findProfile(
  t: CompiledTariff,
  tenant: string,
  category: string,
  subject: string,
): CompiledProfile | undefined {
  return t.profiles.get(tenant)?.get(category)?.get(subject);
}

const ALWAYS: CompiledTiming = {
  id: ANY,
  always: true,
  years: null,
  months: null,
  monthDays: null,
  weekDays: null,
  startSecond: 0,
};

function setOrNull(values: number[]): ReadonlySet<number> | null {
  return values.length === 0 ? null : new Set(values);
}

function parseStartTime(s: string): number {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (!m) throw new Error(`bad start time "${s}"`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

function compileTiming(t: Timing): CompiledTiming {
  const startSecond = parseStartTime(t.startTime);
  const any = [t.years, t.months, t.monthDays, t.weekDays].every((l) => l.length === 0);
  return {
    id: t.id,
    always: any && startSecond === 0,
    years: setOrNull(t.years),
    months: setOrNull(t.months),
    monthDays: setOrNull(t.monthDays),
    weekDays: setOrNull(t.weekDays),
    startSecond,
  };
}

function compileRate(id: string, slots: TariffPlan['rates'][number]['slots']): CompiledRate {
  const sorted = [...slots].sort((a, b) => a.groupIntervalStart - b.groupIntervalStart);
  const compiled = sorted.map((s) => {
    const rate = parseDecimal(s.rate);
    const rateUnit = s.rateUnit > 0 ? s.rateUnit : 1;
    return {
      rate: s.rate,
      rateUnit,
      rateIncrement: s.rateIncrement > 0 ? s.rateIncrement : 1,
      groupIntervalStart: s.groupIntervalStart,
      rateNum: rate.num,
      rateDen: BigInt(rateUnit) * pow10(rate.scale),
    };
  });
  const first = sorted[0];
  if (!first) throw new Error(`rate ${id} has no slots`);
  return { id, slots: compiled, connectFee: parseDecimal(first.connectFee) };
}

/** A binding set whose choice never depends on time: every timing is `*any`; highest weight wins. */
function constantOf(bindings: CompiledBinding[]): CompiledBinding | null {
  if (!bindings.every((b) => b.timing.always)) return null;
  let best: CompiledBinding | null = null;
  for (const b of bindings) if (!best || b.weight > best.weight) best = b;
  return best;
}

function bindingSet(bindings: CompiledBinding[]): BindingSet {
  return {
    bindings,
    constant: constantOf(bindings),
    alwaysCovered: coversEveryDay(bindings),
    days: new Map(),
    lastDay: NaN,
    lastChanges: [],
  };
}

/** Whether bindings starting at midnight, restricted by week day at most, cover all seven days. */
function coversEveryDay(bindings: CompiledBinding[]): boolean {
  const days = new Set<number>();
  for (const { timing: t } of bindings) {
    if (t.startSecond !== 0 || t.years || t.months || t.monthDays) continue;
    if (!t.weekDays) return true;
    for (const d of t.weekDays) days.add(d);
  }
  return days.size === 7;
}

function need<T>(map: Map<string, T>, id: string, what: string, from: string): T {
  const v = map.get(id);
  if (v === undefined) throw new Error(`${from} refers to unknown ${what} "${id}"`);
  return v;
}

export function compileTariff(plan: TariffPlan): CompiledTariff {
  const destinationIds = plan.destinations.map((d) => d.id);
  const destIndex = new Map(destinationIds.map((id, i) => [id, i]));
  const prefixes = buildPrefixIndex(plan.destinations);

  const timings = new Map(plan.timings.map((t) => [t.id, compileTiming(t)]));
  timings.set(ANY, ALWAYS);
  const rates = new Map(plan.rates.map((r) => [r.id, compileRate(r.id, r.slots)]));
  const destinationRates = new Map(plan.destinationRates.map((dr) => [dr.id, dr]));

  const plans = new Map<string, CompiledPlan>();
  for (const rp of plan.ratingPlans) {
    const byDest = new Map<number, CompiledBinding[]>();
    const any: CompiledBinding[] = [];
    for (const pb of rp.bindings) {
      const dr = need(destinationRates, pb.destinationRate, 'destination rate', `rating plan ${rp.id}`);
      const timing = need(timings, pb.timing, 'timing', `rating plan ${rp.id}`);
      for (const b of dr.bindings) {
        const maxCost = parseDecimal(b.maxCost);
        const compiled: CompiledBinding = {
          destination: b.destination,
          destinationRate: dr.id,
          timing,
          weight: pb.weight,
          rate: need(rates, b.rate, 'rate', `destination rate ${dr.id}`),
          roundingMethod: b.roundingMethod,
          roundingDecimals: b.roundingDecimals,
          maxCost: maxCost.num > 0n ? maxCost : null,
          maxCostStrategy: b.maxCostStrategy,
        };
        if (b.destination === ANY) {
          any.push(compiled);
          continue;
        }
        const di = need(destIndex, b.destination, 'destination', `destination rate ${dr.id}`);
        const list = byDest.get(di) ?? [];
        list.push(compiled);
        byDest.set(di, list);
      }
    }
    const byDestination: (BindingSet | undefined)[] = new Array(destinationIds.length).fill(undefined);
    for (const [di, list] of byDest) byDestination[di] = bindingSet(list);
    plans.set(rp.id, {
      id: rp.id,
      byDestination,
      any: any.length ? bindingSet(any) : null,
    });
  }

  const profiles: CompiledTariff['profiles'] = new Map();
  for (const p of plan.ratingProfiles) {
    const byCategory = profiles.get(p.tenant) ?? new Map<string, Map<string, CompiledProfile>>();
    profiles.set(p.tenant, byCategory);
    const bySubject = byCategory.get(p.category) ?? new Map<string, CompiledProfile>();
    byCategory.set(p.category, bySubject);
    const activations = p.activations.map((a) => {
      const atMs = Date.parse(a.activationTime);
      if (Number.isNaN(atMs)) throw new Error(`bad activation time "${a.activationTime}"`);
      return {
        activationTime: a.activationTime,
        atMs,
        plan: need(
          plans,
          a.ratingPlan,
          'rating plan',
          `rating profile ${p.tenant}/${p.category}/${p.subject}`,
        ),
        fallbackSubjects: a.fallbackSubjects,
      };
    });
    const all = [...(bySubject.get(p.subject)?.activations ?? []), ...activations].sort(
      (a, b) => a.atMs - b.atMs,
    );
    bySubject.set(p.subject, {
      tenant: p.tenant,
      category: p.category,
      subject: p.subject,
      activations: all,
    });
  }

  return {
    calendar: makeCalendar(plan.timezone || 'UTC'),
    destinationIds,
    prefixes,
    profiles,
    numbers: compileNumberRules(plan.network?.numbers),
    serviceKinds: compileServiceKinds(plan.network?.serviceContexts),
    counts: {
      destinations: plan.destinations.length,
      prefixes: prefixes.size,
      rates: plan.rates.length,
      ratingPlans: plan.ratingPlans.length,
      ratingProfiles: plan.ratingProfiles.length,
    },
  };
}
