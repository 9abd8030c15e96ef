/**
 * CGRateS carries money as float64. The exact rule (docs/CGRATES-COMPAT.md): a JSON number is
 * taken as the shortest decimal that reads back as the same float (ECMAScript Number::toString,
 * which is Go's strconv 'g' -1 too), then to nano units (10^-9, the engine's money precision).
 * More decimals than that are refused, never rounded: 0.1 is 0.1, but a float whose shortest form
 * has 17 decimals (what 20 typed decimals become) is refused. Answers are written as the exact
 * decimal literal (JSON numbers may have any precision), or as strings when asked.
 */
import { randomBytes } from 'node:crypto';
import { NANO_DECIMALS } from '../rating/money.js';
import { notConvertible } from './errors.js';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The value `n` scaled by 10^decimals as an exact integer, or an error saying why not. */
export function floatToScaled(n: number, decimals: number, field: string): number {
  if (!Number.isFinite(n)) throw notConvertible(`${field} is not a finite number`);
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(n));
  if (!m) throw notConvertible(`${field}: unreadable number ${String(n)}`);
  const [, sign, int, frac = '', exp = '0'] = m;
  const scale = frac.length - Number(exp); // digits after the point once the exponent is applied
  if (scale > decimals)
    throw notConvertible(`${field} ${String(n)} has more than ${decimals} decimals (cannot be represented)`);
  const digits = BigInt(int! + frac) * 10n ** BigInt(decimals - scale);
  if (digits > MAX) throw notConvertible(`${field} ${String(n)} is too large`);
  return Number(sign ? -digits : digits);
}

/** A money float in nano units, by the rule above. */
export const floatToNano = (n: number, field: string) => floatToScaled(n, NANO_DECIMALS, field);

/**
 * A random token of this process marks exact numbers while JSON.stringify runs (no data can hold
 * it: it is never written out), found by one regular expression compiled once.
 */
const TOKEN = `~${randomBytes(12).toString('hex')}~`;
const MARKED = new RegExp(`"${TOKEN}(-?[0-9.]+)${TOKEN}"`, 'g');

/** A number to be written as this exact decimal literal (see writeJson). */
export class RawNumber {
  constructor(readonly text: string) {}
  /** JSON.stringify's own hook: cheaper than a replacer, which slows every key. */
  toJSON(): string {
    return `${TOKEN}${this.text}${TOKEN}`;
  }
}

/** Nano units as an exact decimal number on the wire. */
export function nanoNumber(nano: number): RawNumber {
  const neg = nano < 0;
  const digits = String(Math.abs(nano)).padStart(NANO_DECIMALS + 1, '0');
  const int = digits.slice(0, -NANO_DECIMALS);
  const frac = digits.slice(-NANO_DECIMALS).replace(/0+$/, '');
  return new RawNumber(`${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`);
}

/** JSON text where every RawNumber is its literal (or a string when `asStrings`). */
export function writeJson(value: unknown, asStrings: boolean): string {
  const marked = JSON.stringify(value);
  return marked.includes(TOKEN) ? marked.replace(MARKED, asStrings ? '"$1"' : '$1') : marked;
}
