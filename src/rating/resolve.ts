/**
 * Which profile, plan and destination price an event (CGRateS semantics):
 * 1. the profile of (tenant, category, subject), else of subject `*any`; the activation in force;
 * 2. the number's prefixes from longest to shortest; at each length only destinations the plan
 *    prices and that have a binding in force at the event time count, the heaviest binding wins;
 *    no hit: the plan's `*any` destination; still none: the activation's fallback subjects.
 */
import type { CompiledActivation, CompiledProfile, CompiledTariff, BindingSet } from './compile.js';
import { profileKey } from './compile.js';
import { RatingErrorCode } from './errors.js';
import { ANY } from './model.js';
import { activeAt } from './timeline.js';

/** CGRateS's rals.fallback_depth. */
export const MAX_FALLBACK_DEPTH = 3;

export interface DestinationMatch {
  destination: string;
  matchedPrefix: string;
  bindings: BindingSet;
}

export interface Resolution {
  profile: CompiledProfile;
  activation: CompiledActivation;
  match: DestinationMatch;
}

export function activationAt(profile: CompiledProfile, atMs: number): CompiledActivation | null {
  let found: CompiledActivation | null = null;
  for (const a of profile.activations) {
    if (a.atMs > atMs) break;
    found = a;
  }
  return found;
}

export function matchDestination(
  t: CompiledTariff,
  activation: CompiledActivation,
  number: string,
  atMs: number,
): DestinationMatch | null {
  const plan = activation.plan;
  for (let len = Math.min(number.length, t.maxPrefixLength); len > 0; len--) {
    const prefix = number.slice(0, len);
    const ids = t.prefixes.get(prefix);
    if (ids === undefined) continue;
    let best: DestinationMatch | null = null;
    let bestWeight = -Infinity;
    for (const i of ids) {
      const set = plan.byDestination.get(i);
      if (set === undefined) continue;
      const b = activeAt(set, t.calendar, atMs);
      if (b !== null && b.weight > bestWeight) {
        bestWeight = b.weight;
        best = { destination: t.destinationIds[i]!, matchedPrefix: prefix, bindings: set };
      }
    }
    if (best) return best;
  }
  if (plan.any && activeAt(plan.any, t.calendar, atMs)) {
    return { destination: ANY, matchedPrefix: ANY, bindings: plan.any };
  }
  return null;
}

interface Who {
  tenant: string;
  category: string;
  destination: string;
}

function findActivation(t: CompiledTariff, who: Who, subject: string, atMs: number) {
  const profile = t.profiles.get(profileKey(who.tenant, who.category, subject));
  const activation = profile ? activationAt(profile, atMs) : null;
  return profile && activation ? { profile, activation } : null;
}

export function resolve(
  t: CompiledTariff,
  who: Who,
  subject: string,
  atMs: number,
  depth = 0,
):
  | Resolution
  | typeof RatingErrorCode.RATING_PLAN_NOT_FOUND
  | typeof RatingErrorCode.UNAUTHORIZED_DESTINATION {
  // The tenant's `*any` subject stands in only for a subject with no profile (in force) at all,
  // and only for the subject asked for, not for fallback subjects.
  const found =
    findActivation(t, who, subject, atMs) ??
    (depth === 0 && subject !== ANY ? findActivation(t, who, ANY, atMs) : null);
  if (!found) {
    return depth === 0 ? RatingErrorCode.RATING_PLAN_NOT_FOUND : RatingErrorCode.UNAUTHORIZED_DESTINATION;
  }
  const match = matchDestination(t, found.activation, who.destination, atMs);
  if (match) return { ...found, match };
  if (depth < MAX_FALLBACK_DEPTH) {
    for (const fallback of found.activation.fallbackSubjects) {
      const r = resolve(t, who, fallback, atMs, depth + 1);
      if (typeof r !== 'string') return r;
    }
  }
  return RatingErrorCode.UNAUTHORIZED_DESTINATION;
}

/** Activation times of the subject's (and its `*any`) profiles strictly inside (fromMs, toMs). */
export function activationCuts(
  t: CompiledTariff,
  who: Who,
  subject: string,
  fromMs: number,
  toMs: number,
): number[] {
  const cuts: number[] = [];
  for (const s of subject === ANY ? [ANY] : [subject, ANY]) {
    const p = t.profiles.get(profileKey(who.tenant, who.category, s));
    if (!p) continue;
    for (const a of p.activations)
      if (a.atMs > fromMs && a.atMs < toMs && !cuts.includes(a.atMs)) cuts.push(a.atMs);
  }
  return cuts.sort((a, b) => a - b);
}
