/**
 * Quantities in tariff files, to and from base units (see src/rating/model.ts): durations in Go
 * syntax as CGRateS writes them (`60s`, `1m30s`, `100ms`, `1h`), data sizes (`1024B`, `1KiB`,
 * `1MB`), and bare integers, which are already base units (one nanosecond, byte or message).
 */

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** A Go-style duration ("1m30s", "0.5s") in nanoseconds, or undefined. */
export function parseDuration(s: string): number | undefined {
  if (s === '' || s === '0') return s === '0' ? 0 : undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) return undefined;
    total += exactTimes(m[1]!, DURATION_UNITS[m[2]!]!);
    pos = DURATION_PART.lastIndex;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** value (a decimal string) x unit, exact when the product is a whole number of base units. */
function exactTimes(value: string, unit: number): number {
  const dot = value.indexOf('.');
  if (dot < 0) return Number(value) * unit;
  const decimals = value.length - dot - 1;
  const scaled = Number(value.slice(0, dot) + value.slice(dot + 1)) * unit;
  const result = scaled / 10 ** decimals;
  return Number.isInteger(result) ? result : NaN;
}

/**
 * A tariff quantity in base units: a bare non-negative integer (already base units), a duration
 * with a unit, or a data size with a unit. Undefined when it is none of these.
 */
export function parseQuantity(s: string): number | undefined {
  const t = s.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const size = /^(\d+(?:\.\d+)?)(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(t);
  if (size) {
    const n = exactTimes(size[1]!, SIZE_UNITS[size[2]!]!);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const d = parseDuration(t);
  return d !== undefined && Number.isFinite(d) ? d : undefined;
}

/**
 * Writes a quantity: with `second`, whole seconds as "60s" and anything else as bare base units
 * (which CGRateS reads as nanoseconds, bytes or messages: the same quantity); with `unit`, always bare.
 */
export function formatQuantity(base: number, unit: 'second' | 'unit'): string {
  return unit === 'second' && base % 1e9 === 0 ? `${base / 1e9}s` : String(base);
}
