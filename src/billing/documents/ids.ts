/**
 * Ids that follow from what a document is for, so that a transaction rolled back after its postings
 * landed in Redis (their op ids name the document: `invoice:{id}`, `credit-note:{id}`) makes the same
 * ids when it is done again, and those postings replay instead of moving the money twice.
 */
import { createHash } from 'node:crypto';

/** A UUID (version 8, made by the application) from the parts, which must name one document. */
export function derivedId(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // the RFC 9562 variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
