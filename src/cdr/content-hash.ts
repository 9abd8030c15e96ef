/**
 * What a CDR line says, as a 53-bit number kept beside its id's claim: a CDR id seen again on the
 * same line (a file fed twice) is a quiet duplicate, on another line a conflict an operator must
 * see. The line as written is hashed, not its parsed fields: it is what a resend repeats, and it
 * costs a fraction of building a canonical text per CDR (this runs for every line of every file).
 * Not cryptographic: two different lines under one id look identical with odds of 2^-53.
 */

/** cyrb53 (public domain), two lanes of multiply-xor, fed two UTF-16 code units at a time. */
export function contentHash(line: string): number {
  let h1 = 0xdeadbeef ^ line.length;
  let h2 = 0x41c6ce57;
  let i = 0;
  for (; i + 1 < line.length; i += 2) {
    const c = line.charCodeAt(i) | (line.charCodeAt(i + 1) << 16);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  if (i < line.length) {
    const c = line.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
