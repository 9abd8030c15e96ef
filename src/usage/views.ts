/**
 * The usage views as the API shows them (pure): daily rows grouped by day with their services, and a
 * period's totals by service. Money as decimal text from nano integers, never a float.
 */
import { nanoToDecimal } from '../rating/money.js';
import type { ServiceRow } from './read.js';

export interface ServiceTotal {
  tor: string;
  category: string;
  quantity: string;
  charged: string;
  records: number;
}

/** Every day of the range (days without usage too, with zeros: a chart needs them), oldest first. */
export function byDay(days: string[], rows: ServiceRow[]) {
  const at = new Map<string, ServiceRow[]>();
  for (const r of rows) at.set(r.day, [...(at.get(r.day) ?? []), r]);
  return days.map((day) => {
    const list = at.get(day) ?? [];
    return {
      day,
      charged: nanoToDecimal(list.reduce((a, r) => a + r.chargedNano, 0n)),
      records: list.reduce((a, r) => a + r.records, 0),
      services: list.map(present),
    };
  });
}

/** A period's totals per (tor, category), and the money charged in all. */
export function byService(rows: ServiceRow[]): { services: ServiceTotal[]; charged: string } {
  const sums = new Map<string, { tor: string; category: string; q: bigint[]; c: bigint; n: number }>();
  const quantities = new Map<string, string[]>();
  for (const r of rows) {
    const k = `${r.tor}\n${r.category}`;
    const s = sums.get(k) ?? { tor: r.tor, category: r.category, q: [], c: 0n, n: 0 };
    s.c += r.chargedNano;
    s.n += r.records;
    sums.set(k, s);
    quantities.set(k, [...(quantities.get(k) ?? []), r.quantity]);
  }
  const services = [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, s]) => ({
      tor: s.tor,
      category: s.category,
      quantity: addDecimals(quantities.get(k)!),
      charged: nanoToDecimal(s.c),
      records: s.n,
    }));
  return { services, charged: nanoToDecimal(rows.reduce((a, r) => a + r.chargedNano, 0n)) };
}

function present(r: ServiceRow): ServiceTotal {
  return {
    tor: r.tor,
    category: r.category,
    quantity: r.quantity,
    charged: nanoToDecimal(r.chargedNano),
    records: r.records,
  };
}

/** The exact sum of decimal texts (quantities are numeric in PostgreSQL: CDR usage may have decimals). */
export function addDecimals(values: string[]): string {
  let scale = 0;
  for (const v of values) scale = Math.max(scale, (v.split('.')[1] ?? '').length);
  let sum = 0n;
  for (const v of values) {
    const neg = v.startsWith('-');
    const [i, f = ''] = (neg ? v.slice(1) : v).split('.');
    const n = BigInt(i! + f.padEnd(scale, '0'));
    sum += neg ? -n : n;
  }
  const neg = sum < 0n;
  const digits = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = scale ? digits.slice(-scale).replace(/0+$/, '') : '';
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
