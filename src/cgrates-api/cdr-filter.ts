/**
 * utils.RPCCDRsFilter read into the engine's CdrFilter. A field is either held exactly or refused
 * with NOT_IMPLEMENTED (a CRM that filters and gets a list that ignored its filter bills wrong).
 * Held: Tenants, Accounts, NotAccounts, Subjects (the account, as answered), CGRIDs and OriginIDs
 * (the row id, as answered), RunIDs and Sources (as answered), ToRs, Categories, AnswerTime*,
 * MinUsage/MaxUsage, OrderBy, ExtraArgs MinCost/MaxCost/OrderIDStart ≤ 1, Limit, Offset.
 */
import type { CdrFilter, CdrOrderKey } from './cdr-reads.js';
import { CgrError, notConvertible, notImplemented, unsupportedFormat, UNAUTHORIZED_API } from './errors.js';
import { floatToNano } from './money.js';
import { fields, goDuration, type Obj } from './params.js';
import type { CgrContext } from './context.js';

const SUPPORTED = new Set([
  'Tenants',
  'Accounts',
  'NotAccounts',
  'Subjects',
  'CGRIDs',
  'OriginIDs',
  'RunIDs',
  'Sources',
  'ToRs',
  'Categories',
  'AnswerTimeStart',
  'AnswerTimeEnd',
  'MinUsage',
  'MaxUsage',
  'OrderBy',
  'ExtraArgs',
  'Limit',
  'Offset',
  'APIOpts',
  'ArgDispatcher',
]);

/** engine/storage_sql.go GetCDRs: OrderBy "<field>[;desc]", these fields only. */
const ORDER_KEYS: Record<string, CdrOrderKey> = {
  // CGRateS's OrderID is its insertion order; the engine's is when a row was first stored.
  OrderID: 'stored',
  AnswerTime: 'answer',
  SetupTime: 'answer', // the engine answers SetupTime = AnswerTime
  Cost: 'cost',
  Usage: 'usage',
};

/** The Source each table's rows are answered with (cdrs.ts). */
const SOURCE_OF = { '*cdr_file': 'cdr', '*sessions': 'record' } as const;

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === '' ||
  v === 0 ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && Object.keys(v).length === 0);

function timeParam(f: ReturnType<typeof fields>, name: string): string {
  const s = f.str(name);
  if (!s) return '';
  if (/^\d+$/.test(s)) return new Date(Number(s) * 1000).toISOString();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s))
    throw unsupportedFormat(`${name} ${s}`);
  return s;
}

function orderOf(s: string): CdrFilter['order'] {
  if (s === '') return { key: 'answer', desc: false }; // CGRateS leaves it to the store; ours: answer time
  const [field = '', dir] = s.split(';');
  const key = ORDER_KEYS[field];
  if (!key) throw unsupportedFormat(`OrderBy ${field}: not one of ${Object.keys(ORDER_KEYS).join(', ')}`);
  return { key, desc: dir === 'desc' };
}

/** utils.IfaceAsFloat64 / IfaceAsTInt64: a number, or a string holding one. */
function numberArg(v: unknown, name: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw notConvertible(`ExtraArgs.${name}: ${String(v)}`);
  return n;
}

/**
 * ExtraArgs as RPCCDRsFilter.AsCDRsFilter reads it, then engine/storage_sql.go's cost rules (a
 * rated row always has a cost here: "unrated" (MaxCost -1) selects none, MinCost 0 with it all).
 * OrderIDStart ≤ 1 keeps every row in CGRateS (its OrderIDs start at 1), so it is held exactly;
 * a later start needs OrderIDs the engine does not have.
 */
function extraArgs(x: Obj): { min: number | null; max: number | null; none: boolean } {
  const unknown = Object.keys(x).filter((k) => !['OrderIDStart', 'MinCost', 'MaxCost'].includes(k));
  if (unknown.length) throw notImplemented(`CDR filters ${unknown.map((k) => `ExtraArgs.${k}`).join(', ')}`);
  if (x.OrderIDStart !== undefined && Math.trunc(numberArg(x.OrderIDStart, 'OrderIDStart')) > 1)
    throw notImplemented('CDR filters ExtraArgs.OrderIDStart above 1 (the engine has no OrderID)');
  const min = x.MinCost === undefined ? null : numberArg(x.MinCost, 'MinCost');
  const max = x.MaxCost === undefined ? null : numberArg(x.MaxCost, 'MaxCost');
  const nano = (n: number | null, name: string) => (n === null ? null : floatToNano(n, `ExtraArgs.${name}`));
  if (max === -1 && min === null) return { min: null, max: null, none: true }; // "cost IS NULL"
  if (max === -1 && min === 0) return { min: 0, max: null, none: false }; // "cost IS NULL OR cost >= 0"
  return { min: nano(min, 'MinCost'), max: nano(max, 'MaxCost'), none: false };
}

function scope(f: ReturnType<typeof fields>, c: CgrContext): string[] {
  if (f.strings('Tenants').some((t) => t !== c.principal.tenant)) throw new CgrError(UNAUTHORIZED_API);
  const accounts = f.strings('Accounts');
  if (c.principal.role === 'selfcare' && (accounts.length !== 1 || accounts[0] !== c.principal.accountId))
    throw new CgrError(UNAUTHORIZED_API);
  return accounts;
}

/** The tables whose rows can match RunIDs and Sources (every row is RunID *default). */
function tablesOf(f: ReturnType<typeof fields>): CdrFilter['tables'] {
  const runIds = f.strings('RunIDs');
  if (runIds.length && !runIds.includes('*default')) return [];
  const sources = f.strings('Sources');
  if (!sources.length) return ['cdr', 'record'];
  return (['cdr', 'record'] as const).filter((t) =>
    sources.some((s) => SOURCE_OF[s as keyof typeof SOURCE_OF] === t),
  );
}

const usageArg = (f: ReturnType<typeof fields>, name: string) => {
  const s = f.str(name);
  return s === '' ? null : BigInt(goDuration(s, name));
};

export function cdrFilterOf(arg: Obj, c: CgrContext): CdrFilter {
  const extra = Object.keys(arg).filter((k) => !SUPPORTED.has(k) && !isEmpty(arg[k]));
  if (extra.length) throw notImplemented(`CDR filters ${extra.join(', ')}`);
  const f = fields(arg, 'RPCCDRsFilter');
  const accounts = scope(f, c);
  const cost = extraArgs(f.obj('ExtraArgs'));
  return {
    tenant: c.principal.tenant,
    accounts,
    subjects: f.strings('Subjects'),
    notAccounts: f.strings('NotAccounts'),
    idSets: [f.strings('CGRIDs'), f.strings('OriginIDs')].filter((s) => s.length > 0),
    tors: f.strings('ToRs').map((t) => t.replace(/^\*/, '')),
    categories: f.strings('Categories'),
    destinationPrefixes: [],
    tables: cost.none ? [] : tablesOf(f),
    answerFrom: timeParam(f, 'AnswerTimeStart'),
    answerTo: timeParam(f, 'AnswerTimeEnd'),
    minUsage: usageArg(f, 'MinUsage'),
    maxUsage: usageArg(f, 'MaxUsage'),
    minCostNano: cost.min,
    maxCostNano: cost.max,
    order: orderOf(f.str('OrderBy')),
    limit: Math.min(Math.max(f.int('Limit'), 0) || 1000, 10_000),
    offset: Math.max(f.int('Offset'), 0),
  };
}
