/**
 * What a CDR says, as a 53-bit number kept beside its id's claim: a CDR id seen again with the same
 * content is a quiet duplicate (a file fed twice), with other content a conflict an operator must
 * see. Not cryptographic: two different CDRs under one id look identical with odds of 2^-53.
 */
import type { CdrRecord } from './format.js';

/** cyrb53 (public domain): two 32-bit multiply-xor lanes over the UTF-16 code units. */
function cyrb53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The fields that are the CDR (not how its line was written: spacing, column order, layout). */
export function contentHash(r: CdrRecord): number {
  return cyrb53(
    `${r.tenant}\u0000${r.subscriber}\u0000${r.category}\u0000${r.service}\u0000${r.destination}\u0000` +
      `${r.answerTimeMs}\u0000${r.usage}\u0000${r.subject ?? ''}\u0000${r.ratingGroup ?? ''}`,
  );
}
