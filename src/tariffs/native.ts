/**
 * The native tariff format: a folder holding one `tariff.json` (documented in tariffs/README.md).
 * Same model as `TariffPlan`, same field names, with human quantities ("60s", "1MiB") and money as
 * decimal strings. Every problem is reported with its JSON path and field; unknown fields are
 * refused (a typo must not silently change a price).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TariffPlan } from '../rating/model.js';
import type { Problem } from './errors.js';
import { formatQuantity, parseQuantity } from './quantities.js';

export const NATIVE_FILE = 'tariff.json';
export const NATIVE_FORMAT = 'ocs-tariff/1';

type Json = Record<string, unknown>;

/** Reads typed fields of one JSON object at `path`, recording problems instead of throwing. */
class Reader {
  constructor(
    private readonly problems: Problem[],
    readonly path: string,
    private readonly o: Json,
    allowed: readonly string[],
  ) {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.problem(k, `unknown field "${k}"`);
  }

  problem(field: string, message: string): void {
    this.problems.push({ file: NATIVE_FILE, path: this.path, field, message });
  }

  string(field: string, fallback?: string): string {
    const v = this.o[field];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v === '') {
      this.problem(field, `${field} must be a non-empty string`);
      return '';
    }
    return v;
  }

  number(field: string, fallback?: number): number {
    const v = this.o[field];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.problem(field, `${field} must be a number`);
      return 0;
    }
    return v;
  }

  quantity(field: string, fallback?: string): number {
    const v = this.o[field] ?? fallback;
    const q =
      typeof v === 'string'
        ? parseQuantity(v)
        : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
          ? v
          : undefined;
    if (q === undefined) {
      this.problem(
        field,
        `${field} must be a quantity like "60s", "1m", "1KiB" or a whole number of base units`,
      );
      return 0;
    }
    return q;
  }

  list<T>(field: string, each: (v: unknown, path: string) => T, optional = false): T[] {
    const v = this.o[field];
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) {
      this.problem(field, `${field} must be a list`);
      return [];
    }
    return v.map((x, i) => each(x, `${this.path}/${field}/${i}`));
  }

  child(v: unknown, path: string, allowed: readonly string[]): Reader {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.problems.push({ file: NATIVE_FILE, path, message: 'must be an object' });
      return new Reader(this.problems, path, {}, allowed);
    }
    return new Reader(this.problems, path, v as Json, allowed);
  }

  raw(field: string): unknown {
    return this.o[field];
  }

  stringItem(v: unknown, path: string): string {
    if (typeof v !== 'string') this.problems.push({ file: NATIVE_FILE, path, message: 'must be a string' });
    return String(v);
  }

  numberItem(v: unknown, path: string): number {
    if (typeof v !== 'number') this.problems.push({ file: NATIVE_FILE, path, message: 'must be a number' });
    return Number(v);
  }
}

export function parseNativeTariff(doc: unknown, problems: Problem[]): TariffPlan {
  const top = new Reader(problems, '', {}, []).child(doc, '', [
    'format',
    'description',
    'timezone',
    'destinations',
    'timings',
    'rates',
    'destinationRates',
    'ratingPlans',
    'ratingProfiles',
  ]);
  if (top.string('format', NATIVE_FORMAT) !== NATIVE_FORMAT)
    top.problem('format', `format must be "${NATIVE_FORMAT}"`);
  const nums = (r: Reader) => (v: unknown, p: string) => r.numberItem(v, p);
  const strs = (r: Reader) => (v: unknown, p: string) => r.stringItem(v, p);
  return {
    timezone: top.string('timezone', 'UTC'),
    destinations: top.list('destinations', (v, p) => {
      const r = top.child(v, p, ['id', 'prefixes', 'description']);
      return { id: r.string('id'), prefixes: r.list('prefixes', strs(r)) };
    }),
    timings: top.list(
      'timings',
      (v, p) => {
        const r = top.child(v, p, [
          'id',
          'years',
          'months',
          'monthDays',
          'weekDays',
          'startTime',
          'description',
        ]);
        return {
          id: r.string('id'),
          years: r.list('years', nums(r), true),
          months: r.list('months', nums(r), true),
          monthDays: r.list('monthDays', nums(r), true),
          weekDays: r.list('weekDays', nums(r), true),
          startTime: r.string('startTime', '00:00:00'),
        };
      },
      true,
    ),
    rates: top.list('rates', (v, p) => {
      const r = top.child(v, p, ['id', 'slots', 'description']);
      return {
        id: r.string('id'),
        slots: r.list('slots', (sv, sp) => {
          const s = r.child(sv, sp, [
            'connectFee',
            'rate',
            'rateUnit',
            'rateIncrement',
            'groupIntervalStart',
          ]);
          return {
            connectFee: s.string('connectFee', '0'),
            rate: s.string('rate'),
            rateUnit: s.quantity('rateUnit'),
            rateIncrement: s.quantity('rateIncrement'),
            groupIntervalStart: s.quantity('groupIntervalStart', '0'),
          };
        }),
      };
    }),
    destinationRates: top.list('destinationRates', (v, p) => {
      const r = top.child(v, p, ['id', 'bindings', 'description']);
      return {
        id: r.string('id'),
        bindings: r.list('bindings', (bv, bp) => {
          const b = r.child(bv, bp, [
            'destination',
            'rate',
            'roundingMethod',
            'roundingDecimals',
            'maxCost',
            'maxCostStrategy',
          ]);
          const strategy = b.raw('maxCostStrategy');
          if (
            strategy !== undefined &&
            strategy !== null &&
            strategy !== 'free' &&
            strategy !== 'disconnect'
          ) {
            b.problem('maxCostStrategy', 'maxCostStrategy must be "free", "disconnect" or null');
          }
          return {
            destination: b.string('destination'),
            rate: b.string('rate'),
            roundingMethod: b.string('roundingMethod') as 'up' | 'down' | 'middle',
            roundingDecimals: b.number('roundingDecimals'),
            maxCost: b.string('maxCost', '0'),
            maxCostStrategy: strategy === 'free' || strategy === 'disconnect' ? strategy : null,
          };
        }),
      };
    }),
    ratingPlans: top.list('ratingPlans', (v, p) => {
      const r = top.child(v, p, ['id', 'bindings', 'description']);
      return {
        id: r.string('id'),
        bindings: r.list('bindings', (bv, bp) => {
          const b = r.child(bv, bp, ['destinationRate', 'timing', 'weight']);
          return {
            destinationRate: b.string('destinationRate'),
            timing: b.string('timing', '*any'),
            weight: b.number('weight', 0),
          };
        }),
      };
    }),
    ratingProfiles: top.list('ratingProfiles', (v, p) => {
      const r = top.child(v, p, ['tenant', 'category', 'subject', 'activations', 'description']);
      return {
        tenant: r.string('tenant'),
        category: r.string('category'),
        subject: r.string('subject'),
        activations: r.list('activations', (av, ap) => {
          const a = r.child(av, ap, ['activationTime', 'ratingPlan', 'fallbackSubjects']);
          return {
            activationTime: a.string('activationTime'),
            ratingPlan: a.string('ratingPlan'),
            fallbackSubjects: a.list('fallbackSubjects', strs(a), true),
          };
        }),
      };
    }),
  };
}

export async function readNativeFolder(dir: string): Promise<{ plan: TariffPlan; problems: Problem[] }> {
  const text = await readFile(join(dir, NATIVE_FILE), 'utf8');
  const problems: Problem[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    problems.push({ file: NATIVE_FILE, message: `not valid JSON: ${(err as Error).message}` });
    return { plan: parseNativeTariff({}, []), problems };
  }
  return { plan: parseNativeTariff(doc, problems), problems };
}

/** Serialises a plan in the native format, quantities written for humans ("60s" for time). */
export function toNativeDocument(plan: TariffPlan, unit: 'second' | 'unit'): Json {
  const q = (n: number) => formatQuantity(n, unit);
  return {
    format: NATIVE_FORMAT,
    timezone: plan.timezone,
    destinations: plan.destinations,
    timings: plan.timings,
    rates: plan.rates.map((r) => ({
      id: r.id,
      slots: r.slots.map((s) => ({
        connectFee: s.connectFee,
        rate: s.rate,
        rateUnit: q(s.rateUnit),
        rateIncrement: q(s.rateIncrement),
        groupIntervalStart: q(s.groupIntervalStart),
      })),
    })),
    destinationRates: plan.destinationRates,
    ratingPlans: plan.ratingPlans,
    ratingProfiles: plan.ratingProfiles,
  };
}
