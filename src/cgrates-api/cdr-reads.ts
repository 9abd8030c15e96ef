/**
 * The CDRs a CGRateS client reads (CDRsV2.GetCDRs, APIerSv2.GetCDRs / CountCDRs): rated CDRs from
 * files (`rated_cdrs`) and the records of charged events and closed sessions (`rated_records`),
 * one list, usage in event units (seconds for voice, decimals allowed; bytes; messages; units, as both
 * tables hold it), cost in nano. Reads only; every value a parameter.
 */
import type { Pool } from 'pg';

export interface CdrFilter {
  tenant: string;
  accounts: string[];
  tors: string[];
  categories: string[];
  destinationPrefixes: string[];
  /** ISO times, '' for none. */
  answerFrom: string;
  answerTo: string;
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

/** The WHERE of one table, its columns named by `col`, values appended to `params`. */
function where(f: CdrFilter, col: { tor: string; time: string }, params: unknown[]): string {
  const p = (v: unknown) => `$${params.push(v)}`;
  const parts = [`tenant = ${p(f.tenant)}`];
  if (f.accounts.length) parts.push(`account_id = ANY(${p(f.accounts)})`);
  if (f.tors.length) parts.push(`${col.tor} = ANY(${p(f.tors)})`);
  if (f.categories.length) parts.push(`category = ANY(${p(f.categories)})`);
  if (f.destinationPrefixes.length)
    parts.push(
      `destination LIKE ANY(${p(f.destinationPrefixes.map((d) => `${d.replace(/[\\%_]/g, '\\$&')}%`))})`,
    );
  if (f.answerFrom) parts.push(`${col.time} >= ${p(f.answerFrom)}`);
  if (f.answerTo) parts.push(`${col.time} < ${p(f.answerTo)}`);
  return parts.join(' AND ');
}

function union(schema: string, f: CdrFilter, params: unknown[]): string {
  return `SELECT 'cdr' AS source, cdr_id AS id, account_id, service AS tor, category, destination, answer_time,
                 usage::text AS usage, cost_nano::text AS cost_nano, currency
            FROM ${schema}.rated_cdrs WHERE ${where(f, { tor: 'service', time: 'answer_time' }, params)}
          UNION ALL
          SELECT 'record', record_id, account_id, tor, category, destination, started_at,
                 usage::text, cost_nano::text, currency
            FROM ${schema}.rated_records WHERE ${where(f, { tor: 'tor', time: 'started_at' }, params)}`;
}

export function cdrReads(pool: Pool, schema: string) {
  return {
    async list(f: CdrFilter): Promise<CdrRow[]> {
      const params: unknown[] = [];
      const sql = `${union(schema, f, params)} ORDER BY answer_time, id
                   LIMIT ${f.limit > 0 ? `$${params.push(f.limit)}` : 'ALL'} OFFSET $${params.push(f.offset)}`;
      return (await pool.query<CdrRow>(sql, params)).rows;
    },
    async count(f: CdrFilter): Promise<number> {
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
