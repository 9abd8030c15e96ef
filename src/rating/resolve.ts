/**
 * Which profile, plan and destination price an event (CGRateS semantics):
 * 1. the profile of (tenant, category, subject), else of subject `*any`; the activation in force;
 * 2. the number's prefixes from longest to shortest; at each length only destinations the plan
 *    prices and that have a binding in force at the event time count, the heaviest binding wins;
 *    no hit: the plan's `*any` destination; still none: the activation's fallback subjects.
 */
import type { CompiledActivation, CompiledProfile, CompiledTariff, BindingSet } from './compile.js';
import { RatingErrorCode } from './errors.js';
import { ANY } from './model.js';
import { encodeMatches } from './balance-match.js';
import { collectPrefixes, found } from './prefix-index.js';
import { activeAt } from './timeline.js';

/** CGRateS's rals.fallback_depth. */
export const MAX_FALLBACK_DEPTH = 3;

/** What priced (part of) an event: the profile and activation used, and the destination matched. */
export interface Resolution {
  profile: CompiledProfile;
  activation: CompiledActivation;
  destination: string;
  matchedPrefix: string;
  bindings: BindingSet;
  /**
   * Every destination holding a prefix of the number, for balance filters (balance-match.ts),
   * computed when asked: only charging asks, so rating CDRs and price enquiries pay nothing for it.
   */
  readonly balanceDestinations: string;
}

class Resolved implements Resolution {
  readonly #tariff: CompiledTariff;
  readonly #number: string;

  constructor(
    readonly profile: CompiledProfile,
    readonly activation: CompiledActivation,
    readonly destination: string,
    readonly matchedPrefix: string,
    readonly bindings: BindingSet,
    tariff: CompiledTariff,
    number: string,
  ) {
    this.#tariff = tariff;
    this.#number = number;
  }

  get balanceDestinations(): string {
    return encodeMatches(this.#tariff, this.#number);
  }
}

export interface Who {
  tenant: string;
  category: string;
  destination: string;
}

export function activationAt(profile: CompiledProfile, atMs: number): CompiledActivation | null {
  let result: CompiledActivation | null = null;
  for (const a of profile.activations) {
    if (a.atMs > atMs) break;
    result = a;
  }
  return result;
}

function matchDestination(
  t: CompiledTariff,
  profile: CompiledProfile,
  activation: CompiledActivation,
  number: string,
  atMs: number,
): Resolution | null {
  const plan = activation.plan;
  for (let k = collectPrefixes(t.prefixes, number) - 1; k >= 0; k--) {
    const ids = found.ids[k]!;
    let best: BindingSet | null = null;
    let bestId = 0;
    let bestWeight = -Infinity;
    if (ids.length === 1) {
      // One destination holds this prefix: no weights to compare, only "is a binding in force?".
      const set = plan.byDestination[ids[0]!];
      if (set !== undefined && (set.alwaysCovered || activeAt(set, t.calendar, atMs) !== null)) {
        best = set;
        bestId = ids[0]!;
      }
    } else
      for (const i of ids) {
        const set = plan.byDestination[i];
        if (set === undefined) continue;
        const b = activeAt(set, t.calendar, atMs);
        if (b !== null && b.weight > bestWeight) {
          bestWeight = b.weight;
          best = set;
          bestId = i;
        }
      }
    if (best) {
      const prefix = number.slice(0, found.lengths[k]);
      return new Resolved(profile, activation, t.destinationIds[bestId]!, prefix, best, t, number);
    }
  }
  if (plan.any && activeAt(plan.any, t.calendar, atMs)) {
    return new Resolved(profile, activation, ANY, ANY, plan.any, t, number);
  }
  return null;
}

export type Unresolved =
  typeof RatingErrorCode.RATING_PLAN_NOT_FOUND | typeof RatingErrorCode.UNAUTHORIZED_DESTINATION;

/** The profiles of one tenant and category, by subject. */
export type Profiles = Map<string, CompiledProfile> | undefined;

export function profilesOf(t: CompiledTariff, who: Who): Profiles {
  return t.profiles.get(who.tenant)?.get(who.category);
}

export function resolve(
  t: CompiledTariff,
  profiles: Profiles,
  who: Who,
  subject: string,
  atMs: number,
  depth = 0,
): Resolution | Unresolved {
  let profile = profiles?.get(subject);
  let activation = profile ? activationAt(profile, atMs) : null;
  // The tenant's `*any` subject stands in only for a subject with no profile (in force) at all,
  // and only for the subject asked for, not for fallback subjects.
  if (!activation && depth === 0 && subject !== ANY) {
    profile = profiles?.get(ANY);
    activation = profile ? activationAt(profile, atMs) : null;
  }
  if (!profile || !activation) {
    return depth === 0 ? RatingErrorCode.RATING_PLAN_NOT_FOUND : RatingErrorCode.UNAUTHORIZED_DESTINATION;
  }
  const match = matchDestination(t, profile, activation, who.destination, atMs);
  if (match) return match;
  if (depth < MAX_FALLBACK_DEPTH) {
    for (const fallback of activation.fallbackSubjects) {
      const r = resolve(t, profiles, who, fallback, atMs, depth + 1);
      if (typeof r !== 'string') return r;
    }
  }
  return RatingErrorCode.UNAUTHORIZED_DESTINATION;
}

function addCuts(
  p: CompiledProfile | undefined,
  fromMs: number,
  toMs: number,
  cuts: number[] | null,
): number[] | null {
  if (!p || p.activations[p.activations.length - 1]!.atMs <= fromMs) return cuts;
  for (const a of p.activations) {
    if (a.atMs > fromMs && a.atMs < toMs && !cuts?.includes(a.atMs)) (cuts ??= []).push(a.atMs);
  }
  return cuts;
}

/** Activation times of the subject's (and its `*any`) profiles strictly inside (fromMs, toMs), or null. */
export function activationCuts(
  profiles: Profiles,
  subject: string,
  fromMs: number,
  toMs: number,
): number[] | null {
  if (profiles === undefined) return null;
  let cuts = addCuts(profiles.get(subject), fromMs, toMs, null);
  if (subject !== ANY) cuts = addCuts(profiles.get(ANY), fromMs, toMs, cuts);
  return cuts && cuts.sort((a, b) => a - b);
}
