/**
 * The CDRs a CGRateS client reads (CDRsV2.GetCDRs, APIerSv2.GetCDRs / CountCDRs): rated CDRs from
 * files (`rated_cdrs`) and the records of charged events and closed sessions (`rated_records`),
 * one list, usage in event units (seconds for voice, decimals allowed; bytes; messages; units, as both
 * tables hold it), cost in nano. Reads only; every value a parameter.
 */
import type { Pool } from 'pg';

/** What a list is ordered by: CGRateS's OrderBy values mapped onto the engine's columns. */
export type CdrOrderKey = 'answer' | 'stored' | 'cost' | 'usage';

export interface CdrFilter {
  tenant: string;
  accounts: string[];
  /** Subject is the account (cdrs.ts answers it so): a second account set, both must hold. */
  subjects: string[];
  notAccounts: string[];
  /** Row ids (CGRID and OriginID are both the row id), each list a condition of its own. */
  idSets: string[][];
  tors: string[];
  categories: string[];
  destinationPrefixes: string[];
  /** Which tables to read: rated CDRs of files ('cdr'), records of events and sessions ('record'). */
  tables: ('cdr' | 'record')[];
  /** ISO times, '' for none. */
  answerFrom: string;
  answerTo: string;
  /** Usage bounds in CGRateS's units (nanoseconds for voice, else the event's unit); null = none. */
  minUsage: bigint | null;
  maxUsage: bigint | null;
  /** Cost bounds in nano (min inclusive, max exclusive); null = none. */
  minCostNano: number | null;
  maxCostNano: number | null;
  order: { key: CdrOrderKey; desc: boolean };
  limit: number;
  offset: number;
}

export interface CdrRow {
  source: 'cdr' | 'record';
  id: string;
  account_id: string;
  tor: string;
  category: string;
  destination: string;
  answer_time: Date;
  usage: string;
  cost_nano: string;
  currency: string;
}

interface Cols {
  id: string;
  tor: string;
  time: string;
}

/** Usage in CGRateS's units: voice rows hold seconds, CGRateS nanoseconds (exact in numeric). */
const usageNs = (col: Cols) =>
  `(CASE WHEN ${col.tor} = 'voice' THEN usage::numeric * 1000000000 ELSE usage::numeric END)`;

/** The WHERE of one table, its columns named by `col`, values appended to `params`. */
function where(f: CdrFilter, col: Cols, params: unknown[]): string {
  const p = (v: unknown) => `$${params.push(v)}`;
  const parts = [`tenant = ${p(f.tenant)}`];
  for (const set of [f.accounts, f.subjects]) if (set.length) parts.push(`account_id = ANY(${p(set)})`);
  if (f.notAccounts.length) parts.push(`account_id <> ALL(${p(f.notAccounts)})`);
  for (const ids of f.idSets) parts.push(`${col.id} = ANY(${p(ids)})`);
  if (f.tors.length) parts.push(`${col.tor} = ANY(${p(f.tors)})`);
  if (f.categories.length) parts.push(`category = ANY(${p(f.categories)})`);
  if (f.destinationPrefixes.length)
    parts.push(
      `destination LIKE ANY(${p(f.destinationPrefixes.map((d) => `${d.replace(/[\\%_]/g, '\\$&')}%`))})`,
    );
  if (f.answerFrom) parts.push(`${col.time} >= ${p(f.answerFrom)}`);
  if (f.answerTo) parts.push(`${col.time} < ${p(f.answerTo)}`);
  if (f.minUsage !== null) parts.push(`${usageNs(col)} >= ${p(String(f.minUsage))}::numeric`);
  if (f.maxUsage !== null) parts.push(`${usageNs(col)} < ${p(String(f.maxUsage))}::numeric`);
  if (f.minCostNano !== null) parts.push(`cost_nano >= ${p(f.minCostNano)}`);
  if (f.maxCostNano !== null) parts.push(`cost_nano < ${p(f.maxCostNano)}`);
  return parts.join(' AND ');
}

/**
 * Both tables as one; `stored` is when a row was first stored (what CGRateS's OrderID, an
 * auto-increment, orders by): rated_cdrs.stored_at and rated_records.first_stored_at never change.
 */
function union(schema: string, f: CdrFilter, params: unknown[]): string {
  const cdr = { id: 'cdr_id', tor: 'service', time: 'answer_time' };
  const rec = { id: 'record_id', tor: 'tor', time: 'started_at' };
  const parts = []; // each names its columns: either may be the only one
  if (f.tables.includes('cdr'))
    parts.push(`SELECT 'cdr' AS source, cdr_id AS id, account_id, service AS tor, category, destination,
                 answer_time, usage::text AS usage, cost_nano::text AS cost_nano, currency,
                 stored_at AS stored, cost_nano AS cost, ${usageNs(cdr)} AS usage_ns
            FROM ${schema}.rated_cdrs WHERE ${where(f, cdr, params)}`);
  if (f.tables.includes('record'))
    parts.push(`SELECT 'record' AS source, record_id AS id, account_id, tor, category, destination,
                 started_at AS answer_time, usage::text AS usage, cost_nano::text AS cost_nano, currency,
                 first_stored_at AS stored, cost_nano AS cost, ${usageNs(rec)} AS usage_ns
            FROM ${schema}.rated_records WHERE ${where(f, rec, params)}`);
  return parts.join(' UNION ALL ');
}

const ORDER_COLUMN: Record<CdrOrderKey, string> = {
  answer: 'answer_time',
  stored: 'stored',
  cost: 'cost',
  usage: 'usage_ns',
};

/** The order asked, then source and id so that equal keys (a batch stored at once) page stably. */
function orderBy(f: CdrFilter): string {
  const dir = f.order.desc ? ' DESC' : '';
  return [ORDER_COLUMN[f.order.key], 'source', 'id'].map((c) => c + dir).join(', ');
}

export function cdrReads(pool: Pool, schema: string) {
  return {
    async list(f: CdrFilter): Promise<CdrRow[]> {
      if (!f.tables.length) return [];
      const params: unknown[] = [];
      const sql = `${union(schema, f, params)} ORDER BY ${orderBy(f)}
                   LIMIT ${f.limit > 0 ? `$${params.push(f.limit)}` : 'ALL'} OFFSET $${params.push(f.offset)}`;
      return (await pool.query<CdrRow>(sql, params)).rows;
    },
    async count(f: CdrFilter): Promise<number> {
      if (!f.tables.length) return 0;
      const params: unknown[] = [];
      const r = await pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM (${union(schema, f, params)}) u`,
        params,
      );
      return Number(r.rows[0]!.n);
    },
  };
}

export type CdrReads = ReturnType<typeof cdrReads>;
