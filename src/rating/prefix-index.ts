/**
 * Longest-prefix lookup over every destination prefix of a tariff, in time independent of the
 * number of prefixes. Digit prefixes ("+4420", "0723") live in a digit trie held in flat typed
 * arrays (no hashing, no substrings per lookup); a tariff with other prefixes ("voicemail",
 * "*21#") falls back to probing a string map from the longest length down.
 */

export interface PrefixIndex {
  /** child[node * 10 + digit] = next node, 0 = none. Node 0 is the root, node 1 the "+" root. */
  child: Int32Array;
  /** ids[node] = destination indexes of the prefix ending at node. */
  ids: (number[] | undefined)[];
  /** Destination indexes by prefix string (always filled: validation, describe, fallback). */
  strings: Map<string, number[]>;
  /** False when some prefix is not "+"? followed by digits: lookups then use `strings`. */
  digitsOnly: boolean;
  maxLength: number;
  size: number;
}

function isDigits(p: string): boolean {
  const start = p.charCodeAt(0) === 43 ? 1 : 0;
  if (p.length === start) return false;
  for (let k = start; k < p.length; k++) {
    const d = p.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

function buildTrie(strings: Map<string, number[]>): Pick<PrefixIndex, 'child' | 'ids'> {
  let child = new Int32Array(1024 * 10);
  const ids: (number[] | undefined)[] = [];
  let nodes = 2;
  for (const [p, list] of strings) {
    let node = p.charCodeAt(0) === 43 ? 1 : 0;
    for (let k = node; k < p.length; k++) {
      const slot = node * 10 + (p.charCodeAt(k) - 48);
      let next = child[slot]!;
      if (next === 0) {
        next = nodes++;
        if (nodes * 10 > child.length) {
          const grown = new Int32Array(child.length * 2);
          grown.set(child);
          child = grown;
        }
        child[slot] = next;
      }
      node = next;
    }
    ids[node] = list;
  }
  return { child: child.slice(0, nodes * 10), ids };
}

export function buildPrefixIndex(destinations: { prefixes: string[] }[]): PrefixIndex {
  const strings = new Map<string, number[]>();
  let digitsOnly = true;
  let maxLength = 0;
  let size = 0;
  destinations.forEach((d, i) => {
    for (const p of d.prefixes) {
      size++;
      const list = strings.get(p);
      if (list) {
        if (!list.includes(i)) list.push(i);
        continue;
      }
      strings.set(p, [i]);
      if (p.length > maxLength) maxLength = p.length;
      if (digitsOnly && !isDigits(p)) digitsOnly = false;
    }
  });
  const trie = digitsOnly ? buildTrie(strings) : { child: new Int32Array(0), ids: [] };
  return { ...trie, strings, digitsOnly, maxLength, size };
}

/** Scratch output of `collectPrefixes` (no allocation per lookup): lengths and id lists, SHORTEST first. */
export const found = { lengths: new Int32Array(256), ids: new Array<number[]>(256) };

/**
 * Collects the prefixes of `number` present in the index into `found`, shortest first (read it
 * backwards for longest first); returns how many.
 */
export function collectPrefixes(index: PrefixIndex, number: string): number {
  let count = 0;
  if (!index.digitsOnly) {
    const max = Math.min(number.length, index.maxLength, 255);
    for (let len = 1; len <= max; len++) {
      const ids = index.strings.get(number.slice(0, len));
      if (ids === undefined) continue;
      found.lengths[count] = len;
      found.ids[count++] = ids;
    }
    return count;
  }
  const { child, ids } = index;
  let node = number.charCodeAt(0) === 43 ? 1 : 0;
  const limit = Math.min(number.length, 255);
  for (let k = node; k < limit; k++) {
    const d = number.charCodeAt(k) - 48;
    if (d < 0 || d > 9) break;
    node = child[node * 10 + d]!;
    if (node === 0) break;
    const list = ids[node];
    if (list !== undefined) {
      found.lengths[count] = k + 1;
      found.ids[count++] = list;
    }
  }
  return count;
}
