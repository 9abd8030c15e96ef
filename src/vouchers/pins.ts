/**
 * PINs and serials (pure). A batch's PINs are drawn from AES-256-CTR under a 32-byte seed from
 * `crypto.randomBytes` (a CSPRNG keystream): PIN k is 16 bytes of keystream block k reduced mod 10^16
 * (bias ≈ 10^16 / 2^128, nil). Drawing from a seed rather than storing the PINs is what makes "shown
 * once" cheap: the seed (sealed) is erased in the same statement that hands out the CSV, so the PINs
 * exist nowhere after; the alternative, a million encrypted PINs erased row by row, costs an UPDATE
 * of the whole batch. Serial k is the batch's random prefix and k (1-based), printed, not secret.
 */
import { createCipheriv } from 'node:crypto';

export const PIN_DIGITS = 16;
const MODULUS = 10n ** 16n;

/** The counter block that starts keystream block `k`. */
function ivAt(k: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(k / 2 ** 32), 8);
  iv.writeUInt32BE(k % 2 ** 32, 12);
  return iv;
}

/** PINs number `from` to `from + n - 1` (0-based) of the batch drawn from `seed`. */
export function pinsAt(seed: Buffer, from: number, n: number): string[] {
  const stream = createCipheriv('aes-256-ctr', seed, ivAt(from)).update(Buffer.alloc(16 * n));
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const hi = stream.readBigUInt64BE(16 * i);
    const lo = stream.readBigUInt64BE(16 * i + 8);
    out[i] = (((hi << 64n) | lo) % MODULUS).toString().padStart(PIN_DIGITS, '0');
  }
  return out;
}

/** The serial of voucher `k` (0-based) of a batch: prefix, dash, 1-based number padded to 7 digits. */
export const serialOf = (prefix: string, k: number) => `${prefix}-${String(k + 1).padStart(7, '0')}`;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U to misread

/** A batch's serial prefix from 5 random bytes: 8 characters. */
export function prefixOf(random: Buffer): string {
  let bits = 0n;
  for (const b of random.subarray(0, 5)) bits = (bits << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 8; i++) s = ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)]! + s;
  return s;
}
