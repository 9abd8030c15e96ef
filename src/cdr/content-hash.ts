/**
 * What a CDR line says, as a 32-bit number kept beside its id's claim: a CDR id seen again on the
 * same line (a file fed twice) is a quiet duplicate, on another line a conflict an operator must
 * see. The line as written (its UTF-8 bytes) is hashed, not its parsed fields: it is what a resend
 * repeats, and this runs for every line of every file. Reading the chunk's bytes costs a fraction of
 * walking the line's characters, and a 32-bit result stays a small integer to V8, cheap to write into
 * the claim's COPY row. Two different lines under one id look identical with odds of 1 in 4 billion;
 * a CDR is never charged twice either way.
 */

/** FNV-1a over bytes[from, to), with the length mixed in first and the high bits folded down. */
export function contentHash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 16777619);
  return h ^ (h >>> 15);
}

/** The hash of a line of text (its UTF-8 bytes). */
export function lineHash(line: string): number {
  const bytes = Buffer.from(line, 'utf8');
  return contentHash(bytes, 0, bytes.length);
}
