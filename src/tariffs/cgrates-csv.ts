/**
 * Imports a CGRateS tariff-plan folder (Destinations, Timings, Rates, DestinationRates,
 * RatingPlans, RatingProfiles .csv) into our `TariffPlan`. Other CGRateS files (actions,
 * accounts, filters, ...) are not tariffs: they are listed as warnings and skipped. Every bad row
 * is reported with its file, line and field; nothing is half-imported.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDecimalString } from '../rating/money.js';
import {
  ANY,
  type MaxCostStrategy,
  type RoundingMethod,
  type TariffPlan,
  type Timing,
} from '../rating/model.js';
import { parseCsv, type CsvRow } from './csv.js';
import type { Problem } from './errors.js';
import { parseQuantity } from './quantities.js';
import type { Entity, Locate } from './validate.js';

export const CGRATES_FILES = [
  'Destinations.csv',
  'Timings.csv',
  'Rates.csv',
  'DestinationRates.csv',
  'RatingPlans.csv',
  'RatingProfiles.csv',
] as const;

type FileName = (typeof CGRATES_FILES)[number];

interface Ctx {
  problems: Problem[];
}

class Row {
  constructor(
    private readonly ctx: Ctx,
    private readonly file: FileName,
    private readonly row: CsvRow,
    private readonly columns: readonly string[],
  ) {}

  get line(): number {
    return this.row.line;
  }

  problem(field: string | undefined, message: string): void {
    this.ctx.problems.push({ file: this.file, line: this.row.line, ...(field ? { field } : {}), message });
  }

  text(i: number, required = true): string {
    const v = this.row.fields[i] ?? '';
    if (required && v === '') this.problem(this.columns[i], `${this.columns[i]} is empty`);
    return v;
  }

  decimal(i: number, emptyAs?: string): string {
    const v = this.row.fields[i] ?? '';
    if (v === '' && emptyAs !== undefined) return emptyAs;
    if (!isDecimalString(v) || v.startsWith('-')) {
      this.problem(this.columns[i], `${this.columns[i]} must be a decimal number >= 0, got "${v}"`);
      return '0';
    }
    return v;
  }

  quantity(i: number): number {
    const v = this.row.fields[i] ?? '';
    const q = parseQuantity(v === '' ? '0' : v);
    if (q === undefined) {
      this.problem(
        this.columns[i],
        `${this.columns[i]} must be a duration like 60s or a whole number, got "${v}"`,
      );
      return 0;
    }
    return q;
  }

  integer(i: number, emptyAs?: number): number {
    const v = this.row.fields[i] ?? '';
    if (v === '' && emptyAs !== undefined) return emptyAs;
    if (!/^-?\d+$/.test(v)) {
      this.problem(this.columns[i], `${this.columns[i]} must be a whole number, got "${v}"`);
      return 0;
    }
    return Number(v);
  }

  /** A `;` list; with `anyIsAll`, `*any` means "no restriction" (an empty list). */
  /** A number (CGRateS weights are floats: "10", "10.5"). */
  number(i: number, emptyAs: number): number {
    const v = this.row.fields[i] ?? '';
    if (v === '') return emptyAs;
    if (!/^-?\d+(\.\d+)?$/.test(v)) {
      this.problem(this.columns[i], `${this.columns[i]} must be a number, got "${v}"`);
      return 0;
    }
    return Number(v);
  }

  list(i: number, anyIsAll = true): string[] {
    const v = this.row.fields[i] ?? '';
    if (v === '' || (anyIsAll && v === ANY)) return [];
    return v
      .split(';')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  }

  /** A `;` list of integers within [min, max] (`*any` or empty: any). */
  numbers(i: number, min: number, max: number): number[] {
    const out: number[] = [];
    for (const x of this.list(i)) {
      const n = Number(x);
      if (!/^\d+$/.test(x) || n < min || n > max)
        this.problem(this.columns[i], `${this.columns[i]} value "${x}" is not in ${min}..${max}`);
      else out.push(n);
    }
    return out;
  }
}

const COLUMNS: Record<FileName, readonly string[]> = {
  'Destinations.csv': ['Id', 'Prefix'],
  'Timings.csv': ['Id', 'Years', 'Months', 'MonthDays', 'WeekDays', 'Time'],
  'Rates.csv': ['Id', 'ConnectFee', 'Rate', 'RateUnit', 'RateIncrement', 'GroupIntervalStart'],
  'DestinationRates.csv': [
    'Id',
    'DestinationId',
    'RatesTag',
    'RoundingMethod',
    'RoundingDecimals',
    'MaxCost',
    'MaxCostStrategy',
  ],
  'RatingPlans.csv': ['Id', 'DestinationRatesId', 'TimingTag', 'Weight'],
  'RatingProfiles.csv': [
    'Tenant',
    'Category',
    'Subject',
    'ActivationTime',
    'RatingPlanId',
    'RatesFallbackSubject',
  ],
};

const ROUNDING: Readonly<Record<string, RoundingMethod>> = {
  '*up': 'up',
  '*down': 'down',
  '*middle': 'middle',
  '': 'middle',
};
const STRATEGY: Readonly<Record<string, MaxCostStrategy | null>> = {
  '*free': 'free',
  '*disconnect': 'disconnect',
  '': null,
};

function rowsOf(ctx: Ctx, file: FileName, text: string | undefined): Row[] {
  if (text === undefined) return [];
  const columns = COLUMNS[file];
  return parseCsv(text).map((r) => {
    // Older CGRateS plans start RatingProfiles with a Direction column (*out).
    if (file === 'RatingProfiles.csv' && (r.fields[0] === '*out' || r.fields[0] === '*in')) r.fields.shift();
    const row = new Row(ctx, file, r, columns);
    const extra = r.fields.slice(columns.length).filter((f) => f !== '');
    if (r.fields.length < columns.length - 1)
      row.problem(
        undefined,
        `expected ${columns.length} columns (${columns.join(', ')}), got ${r.fields.length}`,
      );
    else if (extra.length && file !== 'RatingProfiles.csv')
      row.problem(undefined, `unexpected extra columns: ${extra.join(', ')}`);
    return row;
  });
}

/** Items of one kind, with the CSV line of each item's sub-entries (slots, bindings, activations). */
interface Built<T> {
  items: T[];
  lines: number[][];
}

/** Groups rows by a key, keeping first-seen order and each row's line. */
function group<T>(
  rows: Row[],
  key: (r: Row) => string,
  make: (r: Row) => T,
): Map<string, { entries: T[]; lines: number[] }> {
  const byKey = new Map<string, { entries: T[]; lines: number[] }>();
  for (const r of rows) {
    const k = key(r);
    const g = byKey.get(k) ?? { entries: [], lines: [] };
    g.entries.push(make(r));
    g.lines.push(r.line);
    byKey.set(k, g);
  }
  return byKey;
}

function destinations(rows: Row[]): Built<TariffPlan['destinations'][number]> {
  const groups = group(
    rows,
    (r) => r.text(0),
    (r) => r.text(1),
  );
  const entries = [...groups];
  return {
    items: entries.map(([id, g]) => ({ id, prefixes: g.entries.filter((p) => p !== '') })),
    lines: entries.map(([, g]) => g.lines),
  };
}

function timings(rows: Row[]): Built<Timing> {
  return { items: rows.map(timing), lines: rows.map((r) => [r.line]) };
}

function timing(r: Row): Timing {
  const time = r.text(5);
  if (time !== '' && !/^\d{1,2}:\d{2}(:\d{2})?$/.test(time))
    r.problem('Time', `Time must be HH:MM:SS, got "${time}"`);
  // CGRateS week days are 0..6 with 0 (or 7) for Sunday; ours are ISO 1..7.
  const weekDays = [...new Set(r.numbers(4, 0, 7).map((d) => (d === 0 ? 7 : d)))];
  return {
    id: r.text(0),
    years: r.numbers(1, 1970, 9999),
    months: r.numbers(2, 1, 12),
    monthDays: r.numbers(3, 1, 31),
    weekDays,
    startTime: time === '' || time === ANY ? '00:00:00' : time,
  };
}

function rates(rows: Row[]): Built<TariffPlan['rates'][number]> {
  const groups = [
    ...group(
      rows,
      (r) => r.text(0),
      (r) => ({
        connectFee: r.decimal(1, '0'),
        rate: r.decimal(2),
        rateUnit: r.quantity(3),
        rateIncrement: r.quantity(4),
        groupIntervalStart: r.quantity(5),
      }),
    ),
  ];
  // Slots apply by elapsed usage: sort them, and their lines with them.
  const sorted = groups.map(([id, g]) => {
    const order = g.entries
      .map((_, k) => k)
      .sort((a, b) => g.entries[a]!.groupIntervalStart - g.entries[b]!.groupIntervalStart);
    return { id, slots: order.map((k) => g.entries[k]!), lines: order.map((k) => g.lines[k]!) };
  });
  return { items: sorted.map(({ id, slots }) => ({ id, slots })), lines: sorted.map((x) => x.lines) };
}

function destinationRates(rows: Row[]): Built<TariffPlan['destinationRates'][number]> {
  const groups = [
    ...group(
      rows,
      (r) => r.text(0),
      (r) => {
        const method = ROUNDING[r.text(3, false)];
        if (method === undefined)
          r.problem(
            'RoundingMethod',
            `RoundingMethod must be *up, *down or *middle, got "${r.text(3, false)}"`,
          );
        const strategy = STRATEGY[r.text(6, false)];
        if (strategy === undefined) {
          r.problem(
            'MaxCostStrategy',
            `MaxCostStrategy must be *free, *disconnect or empty, got "${r.text(6, false)}"`,
          );
        }
        return {
          destination: r.text(1),
          rate: r.text(2),
          roundingMethod: method ?? 'middle',
          roundingDecimals: r.integer(4, 0),
          maxCost: r.decimal(5, '0'),
          maxCostStrategy: strategy ?? null,
        };
      },
    ),
  ];
  return {
    items: groups.map(([id, g]) => ({ id, bindings: g.entries })),
    lines: groups.map(([, g]) => g.lines),
  };
}

function ratingPlans(rows: Row[]): Built<TariffPlan['ratingPlans'][number]> {
  const groups = [
    ...group(
      rows,
      (r) => r.text(0),
      (r) => ({ destinationRate: r.text(1), timing: r.text(2, false) || ANY, weight: r.number(3, 0) }),
    ),
  ];
  return {
    items: groups.map(([id, g]) => ({ id, bindings: g.entries })),
    lines: groups.map(([, g]) => g.lines),
  };
}

function ratingProfiles(rows: Row[]): Built<TariffPlan['ratingProfiles'][number]> {
  const groups = [
    ...group(
      rows,
      (r) => `${r.text(0)}\u0000${r.text(1)}\u0000${r.text(2)}`,
      (r) => {
        const activationTime = r.text(3);
        if (activationTime && Number.isNaN(Date.parse(activationTime))) {
          r.problem(
            'ActivationTime',
            `ActivationTime must be an RFC 3339 time like 2014-01-14T00:00:00Z, got "${activationTime}"`,
          );
        }
        return {
          who: { tenant: r.text(0), category: r.text(1), subject: r.text(2) },
          activation: {
            activationTime,
            ratingPlan: r.text(4),
            fallbackSubjects: r.list(5, false),
          },
        };
      },
    ),
  ];
  return {
    items: groups.map(([, g]) => ({ ...g.entries[0]!.who, activations: g.entries.map((e) => e.activation) })),
    lines: groups.map(([, g]) => g.lines),
  };
}

export async function isCgratesFolder(dir: string): Promise<boolean> {
  const names = await readdir(dir);
  return names.includes('Rates.csv') || names.includes('RatingPlans.csv');
}

export async function readCgratesFolder(
  dir: string,
  opts: { timezone?: string } = {},
): Promise<{ plan: TariffPlan; problems: Problem[]; warnings: string[]; locate: Locate }> {
  const names = await readdir(dir);
  const warnings = names
    .filter((n) => n.toLowerCase().endsWith('.csv') && !(CGRATES_FILES as readonly string[]).includes(n))
    .map((n) => `${n}: not part of a tariff (accounts, actions, filters ...), ignored`);
  const texts = new Map<FileName, string>();
  for (const f of CGRATES_FILES) if (names.includes(f)) texts.set(f, await readFile(join(dir, f), 'utf8'));
  const ctx: Ctx = { problems: [] };
  for (const f of ['Rates.csv', 'DestinationRates.csv', 'RatingPlans.csv', 'RatingProfiles.csv'] as const) {
    if (!texts.has(f)) ctx.problems.push({ file: f, message: `${f} is missing` });
  }
  const rows = (f: FileName) => rowsOf(ctx, f, texts.get(f));
  const built = {
    destinations: destinations(rows('Destinations.csv')),
    timings: timings(rows('Timings.csv')),
    rates: rates(rows('Rates.csv')),
    destinationRates: destinationRates(rows('DestinationRates.csv')),
    ratingPlans: ratingPlans(rows('RatingPlans.csv')),
    ratingProfiles: ratingProfiles(rows('RatingProfiles.csv')),
  };
  const plan: TariffPlan = {
    timezone: opts.timezone ?? 'UTC',
    destinations: built.destinations.items,
    timings: built.timings.items,
    rates: built.rates.items,
    destinationRates: built.destinationRates.items,
    ratingPlans: built.ratingPlans.items,
    ratingProfiles: built.ratingProfiles.items,
  };
  const locate: Locate = (entity, index, sub) => {
    if (entity === 'timezone') return { file: '--timezone' };
    const lines = built[entity].lines[index ?? 0];
    return { file: FILE_OF[entity], line: lines?.[sub ?? 0] };
  };
  return { plan, problems: ctx.problems, warnings, locate };
}

const FILE_OF: Record<Entity, FileName> = {
  destinations: 'Destinations.csv',
  timings: 'Timings.csv',
  rates: 'Rates.csv',
  destinationRates: 'DestinationRates.csv',
  ratingPlans: 'RatingPlans.csv',
  ratingProfiles: 'RatingProfiles.csv',
};
