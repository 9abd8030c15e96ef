/**
 * Which balances may pay for a dialled number (CGRateS's destination rule), shared by the
 * TypeScript planner (affordable.ts) and, as data, by the Lua planner (balances/lua/common.lua
 * `specificity`): rating lists every destination holding a prefix of the number, with the length
 * of its longest such prefix; a balance restricted to destinations matches when one of them is in
 * its list, unless one of them is excluded (`!ID`). The rule is written out in docs/BALANCES.md.
 */
import { collectPrefixes, found, type PrefixIndex } from './prefix-index.js';

/** Destination id -> length of the longest prefix of the number it holds. */
export type DestinationMatches = ReadonlyMap<string, number>;

/**
 * Encoded matches by the number's longest prefix in the index, per index: every shorter prefix of a
 * number in the index is a prefix of that one, so it says all. Bounded by the tariff's prefixes.
 */
const ENCODED = new WeakMap<PrefixIndex, Map<string, string>>();

/**
 * The destinations holding a prefix of `number`, encoded for the balance scripts as
 * 'length:id,…' (longest first). Ids never hold ',' (tariff ids are plain words). Rating calls it
 * for every event: cached, it costs a trie walk and a map lookup.
 */
export function encodeMatches(
  t: { prefixes: PrefixIndex; destinationIds: string[] },
  number: string,
): string {
  const count = collectPrefixes(t.prefixes, number);
  if (count === 0) return '';
  let byPrefix = ENCODED.get(t.prefixes);
  if (byPrefix === undefined) ENCODED.set(t.prefixes, (byPrefix = new Map()));
  const longest = number.slice(0, found.lengths[count - 1]);
  let encoded = byPrefix.get(longest);
  if (encoded === undefined) {
    const parts: string[] = [];
    for (let k = count - 1; k >= 0; k--) {
      for (const i of found.ids[k]!) parts.push(`${found.lengths[k]}:${t.destinationIds[i]}`);
    }
    encoded = parts.join(',');
    byPrefix.set(longest, encoded);
  }
  return encoded;
}

/**
 * Reads the encoded matches; a bare id (a caller that passes the rated destination only) counts
 * as matched by a prefix of length 1. Mirrors `destinationMatches` in common.lua.
 */
export function parseMatches(encoded: string): DestinationMatches {
  const m = new Map<string, number>();
  for (const entry of encoded.split(',')) {
    if (entry === '') continue;
    const at = /^(\d+):(.+)$/.exec(entry);
    const [len, id] = at ? [Number(at[1]), at[2]!] : [1, entry];
    if ((m.get(id) ?? -1) < len) m.set(id, len);
  }
  return m;
}

/**
 * How specifically a balance's destination list matches: -1 = it may not pay; 0 = any destination
 * (no list, or only exclusions none of which holds a prefix of the number); else the length of the
 * longest prefix of the number held by an included destination.
 */
export function destinationSpecificity(destinations: readonly string[], matches: DestinationMatches): number {
  let best = -1;
  let included = false;
  for (const d of destinations) {
    if (d.startsWith('!')) {
      if (matches.has(d.slice(1))) return -1;
      continue;
    }
    included = true;
    best = Math.max(best, matches.get(d) ?? -1);
  }
  return included ? best : 0;
}

const DURATION_NS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * The step a balance with rating subject `*zero<duration>` is consumed in, in base units (CGRateS:
 * usage taken from it is free, rounded up to that step). Durations are in ns; like CGRateS, units
 * other than voice read them as counts (1ns = 1 byte or message). Null when it is not that form.
 */
export function zeroIncrement(ratingSubject: string): number | null {
  const m = /^\*zero(\d{1,12})(ns|us|ms|s|m|h)$/.exec(ratingSubject);
  if (!m) return null;
  const step = Number(m[1]) * DURATION_NS[m[2]!]!;
  return Number.isSafeInteger(step) && step >= 1 ? step : null;
}
