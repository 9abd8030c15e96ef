/**
 * Exact money for the rating core.
 *
 * Decimal strings from tariffs are parsed into a rational `num / 10^scale` with BigInt, so no
 * amount ever passes through a binary float. Balances and storage use integer **nano units**
 * (1e-9 of the currency, `NANO_PER_UNIT`) as safe JS integers: fine enough for per-second rates
 * and large enough for 9,007,199 currency units in one amount.
 */

export const NANO_DECIMALS = 9;
export const NANO_PER_UNIT = 1_000_000_000n;

export interface Decimal {
  /** The digits, as an integer. */
  num: bigint;
  /** The number of decimals: value = num / 10^scale. */
  scale: number;
}

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

export function isDecimalString(s: string): boolean {
  return DECIMAL_RE.test(s);
}

/** Parses "0.05" into { num: 5n, scale: 2 }. Throws on anything that is not a plain decimal. */
export function parseDecimal(s: string): Decimal {
  if (!DECIMAL_RE.test(s)) throw new Error(`not a decimal number: "${s}"`);
  const dot = s.indexOf('.');
  if (dot < 0) return { num: BigInt(s), scale: 0 };
  return { num: BigInt(s.slice(0, dot) + s.slice(dot + 1)), scale: s.length - dot - 1 };
}

export const POW10: readonly bigint[] = Array.from({ length: 64 }, (_, i) => 10n ** BigInt(i));

export function pow10(n: number): bigint {
  return POW10[n] ?? 10n ** BigInt(n);
}

/** Formats `value / 10^scale` as a plain decimal string without trailing zeros ("0.17", "2701"). */
export function formatScaled(value: bigint, scale: number): string {
  if (scale <= 0) return (value * pow10(-scale)).toString();
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const intPart = digits.slice(0, digits.length - scale);
  const fracPart = digits.slice(digits.length - scale).replace(/0+$/, '');
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return negative && body !== '0' ? `-${body}` : body;
}

/** Converts a decimal string to integer nano units; refuses more than 9 decimals or unsafe sizes. */
export function decimalToNano(s: string): number {
  const d = parseDecimal(s);
  if (d.scale > NANO_DECIMALS) throw new Error(`"${s}" has more than ${NANO_DECIMALS} decimals`);
  const nano = d.num * pow10(NANO_DECIMALS - d.scale);
  if (nano > BigInt(Number.MAX_SAFE_INTEGER) || nano < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`"${s}" is too large for an amount`);
  }
  return Number(nano);
}

/** Formats integer nano units as a decimal string ("170000000" -> "0.17"). */
export function nanoToDecimal(nano: number | bigint): string {
  return formatScaled(BigInt(nano), NANO_DECIMALS);
}
