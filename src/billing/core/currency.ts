/**
 * Currencies and money on billing documents: ISO 4217 minor units, exact parsing of decimal
 * strings into bigint nano units (10^-9), rounding to the minor unit and formatting.
 *
 * Amounts inside billing are `bigint` nano: an enterprise invoice in JPY or CLP passes 2^53 nano,
 * so no amount ever becomes a JS number. Rounding happens only here, and only on the document.
 */
import { formatScaled } from '../../rating/money.js';

export const NANO_DECIMALS = 9;

/** The largest amount a document may carry: it must fit a PostgreSQL `bigint` column of nano. */
export const MAX_AMOUNT_NANO = 9_223_372_036_854_775_807n;

/** ISO 4217 active currencies by minor-unit exponent (funds codes and precious metals left out). */
const CODES_BY_EXPONENT: Record<number, string> = {
  0: 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF',
  2:
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF ' +
    'CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL ' +
    'HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP ' +
    'MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD ' +
    'SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS ' +
    'VES WST XCD XCG YER ZAR ZMW ZWG',
  3: 'BHD IQD JOD KWD LYD OMR TND',
  4: 'CLF UYW',
};

const EXPONENTS = new Map<string, number>(
  Object.entries(CODES_BY_EXPONENT).flatMap(([exponent, codes]) =>
    codes.split(' ').map((code): [string, number] => [code, Number(exponent)]),
  ),
);

/** Why a money string was refused; routes map each reason to its own problem `cause`. */
export type MoneyFormatReason = 'malformed' | 'too_many_decimals' | 'unknown_currency' | 'too_large';

export class MoneyFormatError extends Error {
  constructor(
    message: string,
    readonly reason: MoneyFormatReason,
  ) {
    super(message);
    this.name = 'MoneyFormatError';
  }
}

/** The number of decimals of the currency's minor unit (GBP 2, JPY 0, BHD 3), or undefined if unknown. */
export function minorExponent(code: string): number | undefined {
  return EXPONENTS.get(code);
}

function exponentOf(currency: string): number {
  const exponent = EXPONENTS.get(currency);
  if (exponent === undefined) {
    throw new MoneyFormatError(`"${currency}" is not an ISO 4217 currency code`, 'unknown_currency');
  }
  return exponent;
}

/** Nano per minor unit by exponent, computed once: BigInt exponentiation is slow on the run's hot path. */
const STEP_BY_EXPONENT = [0, 1, 2, 3, 4].map((exponent) => 10n ** BigInt(NANO_DECIMALS - exponent));

/** Nano per minor unit: 10^(9 − exponent) (GBP 10,000,000; JPY 1,000,000,000). */
export function minorStepNano(currency: string): bigint {
  return STEP_BY_EXPONENT[exponentOf(currency)]!;
}

const MONEY_RE = /^(-?)(\d{1,40})(?:\.(\d{1,40}))?$/;

/**
 * "15.00" GBP → 15_000_000_000n. Refuses anything but a plain decimal, more decimals than the
 * currency's minor unit ("15.001" GBP, "1500.0" JPY: the digit count decides, so a client learns
 * the rule from one refusal), an unknown currency, and amounts past MAX_AMOUNT_NANO.
 */
export function parseMoney(text: string, currency: string): bigint {
  const exponent = exponentOf(currency);
  const m = MONEY_RE.exec(text);
  if (m === null) throw new MoneyFormatError(`"${text}" is not a decimal amount`, 'malformed');
  const [, sign, whole, fraction = ''] = m;
  if (fraction.length > exponent) {
    throw new MoneyFormatError(
      `"${text}" has more decimals than ${currency} allows (${exponent})`,
      'too_many_decimals',
    );
  }
  const magnitude = BigInt(whole! + fraction.padEnd(NANO_DECIMALS, '0'));
  if (magnitude > MAX_AMOUNT_NANO) throw new MoneyFormatError(`"${text}" is too large`, 'too_large');
  return sign === '-' ? -magnitude : magnitude;
}

/** Divides and rounds half-up, away from zero for negatives (the document's one rounding rule). */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  const q = (magnitude * 2n + denominator) / (denominator * 2n);
  return negative ? -q : q;
}

/** Floor division for signed numerators (BigInt `/` truncates toward zero). */
export function divFloor(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const q = numerator / denominator;
  return numerator % denominator < 0n ? q - 1n : q;
}

/** Rounds nano to a multiple of the currency's minor unit, half-up away from zero. */
export function roundToMinor(nano: bigint, currency: string): bigint {
  const step = minorStepNano(currency);
  return divRoundHalfUp(nano, step) * step;
}

/** Exactly the minor digits ("7.00", "-0.50", "1500", "0.125"); rounds first if given finer nano. */
export function formatMoney(nano: bigint, currency: string): string {
  const exponent = exponentOf(currency);
  const minor = divRoundHalfUp(nano, minorStepNano(currency));
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const body = exponent === 0 ? whole : `${whole}.${digits.slice(digits.length - exponent)}`;
  return negative ? `-${body}` : body;
}

/** Full precision, no trailing zeros ("0.000000001", "-12.5"). */
export function nanoToDecimal(nano: bigint): string {
  return formatScaled(nano, NANO_DECIMALS);
}
