/**
 * The bill membership rule (billing.md E.1) as SQL: a billable row r belongs to bill N of its account
 * iff  r.stored_at <= C_N  AND  bt < E_N  AND NOT (r.stored_at <= C_{N-1} AND bt < E_{N-1}),
 * with bt = least(event time, stored_at) and C_0 = E_0 = -infinity. One statement per source for a
 * whole chunk of bills: the bills are a parameter table, and the scan is bounded below by the least
 * E_{N-1} of the chunk (a row stored before E_{N-1} has bt < E_{N-1} and is on an earlier bill), which
 * the BRIN indexes on stored_at use; no per-account index on rated_cdrs is needed.
 *
 * Usage is summed per (account, bill, tor, category, late, corrected period): late rows are those
 * whose bt falls in an earlier period (they arrived after that period's cut-off) and go on
 * `late_usage` lines (adjustments on `adjustment` lines) citing that period and its invoice.
 */
import type { PoolClient } from 'pg';
import { checkSchema } from './schema.js';

/** One bill to draft: the account's period N and the previous one's end and cut-off (null = -infinity). */
export interface BillWindow {
  accountId: string;
  seq: number;
  periodStart: string;
  periodEnd: string;
  cutoffAt: string;
  prevEnd: string | null;
  prevCutoff: string | null;
}

export interface UsageSum {
  accountId: string;
  seq: number;
  source: 'cdr' | 'record' | 'adjustment';
  tor: string;
  category: string;
  late: boolean;
  /** For adjustments: 'rerate' | 'late_report'. */
  reason: string | null;
  /** For late rows (usage and adjustments of an earlier period): that period and its invoice. */
  corrects: Corrects | null;
  count: number;
  usage: string;
  chargedNano: bigint;
}

/**
 * The earlier period a late row belongs to (the one its billing time falls in) and that period's
 * invoice: the document an adjustment or late-usage line cites. `invoiceNumber` is null when that bill
 * has no issued invoice (empty, skipped, or still a draft when this one was drafted).
 */
export interface Corrects {
  billSeq: number;
  invoiceNumber: string | null;
  /** The period's bounds (epoch ms) and its first and last local days, as on that invoice. */
  start: number;
  end: number;
  startDate: string;
  endDate: string;
}

export interface ChargeRow {
  accountId: string;
  seq: number;
  id: string;
  kind: 'fee' | 'setup' | 'one_off' | 'proration' | 'discount' | 'adjustment';
  description: string;
  quantity: string | null;
  amountNano: bigint;
  currency: string;
  taxCode: string | null;
  serviceStart: Date | null;
  serviceEnd: Date | null;
}

/** The bills as a parameter table `w` (unnest of arrays). */
function windows(bills: BillWindow[]): { sql: string; params: unknown[] } {
  return {
    sql: `(SELECT * FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
            $7::timestamptz[]) AS x(account_id, seq, period_end, cutoff_at, prev_end, prev_cutoff)) w`,
    params: [
      bills.map((b) => b.accountId),
      bills.map((b) => b.seq),
      bills.map((b) => b.periodEnd),
      bills.map((b) => b.cutoffAt),
      bills.map((b) => b.prevEnd),
      bills.map((b) => b.prevCutoff),
    ],
  };
}

/** The membership condition for a source whose stamp and billing time are these SQL expressions. */
function member(stored: string, bt: string): string {
  return `${stored} <= w.cutoff_at AND ${bt} < w.period_end
    AND NOT (w.prev_cutoff IS NOT NULL AND ${stored} <= w.prev_cutoff AND ${bt} < w.prev_end)`;
}

/** Scan bound: nothing stored before the chunk's least E_{N-1} can be on these bills. */
function lowerBound(bills: BillWindow[]): string | null {
  if (bills.some((b) => b.prevEnd === null)) return null;
  return bills.map((b) => b.prevEnd!).reduce((a, b) => (new Date(a) <= new Date(b) ? a : b));
}

export interface SumRow {
  account_id: string;
  seq: number;
  source: UsageSum['source'];
  tor: string;
  category: string;
  late: boolean;
  reason: string | null;
  corrects: Record<string, string | number | null> | null;
  n: string;
  usage: string;
  charged: string;
}

function toCorrects(j: SumRow['corrects']): Corrects | null {
  if (!j) return null;
  return {
    billSeq: Number(j.bill_seq),
    invoiceNumber: (j.invoice_number as string | null) ?? null,
    start: Number(j.start),
    end: Number(j.end),
    startDate: String(j.start_date),
    endDate: String(j.end_date),
  };
}

export const toSum = (r: SumRow): UsageSum => ({
  accountId: r.account_id,
  seq: r.seq,
  source: r.source,
  tor: r.tor,
  category: r.category,
  late: r.late,
  reason: r.reason,
  corrects: toCorrects(r.corrects),
  count: Number(r.n),
  usage: r.usage,
  chargedNano: BigInt(r.charged),
});

/** The three usage sources: where each keeps its stamp, billing time, service and reason. */
const SOURCES = [
  {
    source: 'cdr',
    table: 'rated_cdrs',
    stored: 'r.stored_at',
    time: 'r.answer_time',
    tor: 'r.service',
    reason: 'NULL',
  },
  {
    source: 'record',
    table: 'rated_records',
    stored: 'r.first_stored_at',
    time: 'r.started_at',
    tor: 'r.tor',
    reason: 'NULL',
  },
  {
    source: 'adjustment',
    table: 'usage_adjustments',
    stored: 'r.stored_at',
    time: 'r.event_time',
    tor: 'r.tor',
    reason: 'r.reason',
  },
] as const;

/**
 * For a late row (billing time `bt` before this bill's period), its period and that period's issued
 * invoice, as jsonb (null otherwise). Evaluated for late rows only (CASE): the few of a run, each a
 * lookup of its account's bill periods by primary key.
 */
function correctsSql(s: string, bt: string): string {
  const ms = (t: string) => `(extract(epoch FROM ${t}) * 1000)::bigint`;
  return `CASE WHEN w.prev_end IS NOT NULL AND ${bt} < w.prev_end THEN (
      SELECT jsonb_build_object('bill_seq', p.seq, 'invoice_number', i.number,
               'start', ${ms('p.period_start')}, 'end', ${ms('p.period_end')},
               'start_date', (p.period_start AT TIME ZONE a.timezone)::date::text,
               'end_date', ((p.period_end - interval '1 millisecond') AT TIME ZONE a.timezone)::date::text)
        FROM ${s}.bill_periods p
        JOIN ${s}.billing_accounts a ON a.tenant = p.tenant AND a.account_id = p.account_id
        LEFT JOIN ${s}.invoices i ON i.tenant = p.tenant AND i.account_id = p.account_id
             AND i.bill_seq = p.seq AND i.number IS NOT NULL
       WHERE p.tenant = $1 AND p.account_id = r.account_id AND p.period_start <= ${bt} AND ${bt} < p.period_end)
    END`;
}

/**
 * One source's usage sums of the bills in `w` (a FROM item aliased w: account_id, seq, period_end,
 * cutoff_at, prev_end, prev_cutoff), tenant $1, the scan's lower bound `lo` (a timestamptz or NULL).
 * Shared by the chunk's read (usageOf) and the run's staged read (stage.ts): one membership rule.
 */
export function usageSql(schema: string, src: (typeof SOURCES)[number], w: string, lo: string): string {
  const s = checkSchema(schema);
  const bt = `least(${src.time}, ${src.stored})`;
  const usage = src.source === 'adjustment' ? 'r.delta_usage' : 'r.usage';
  const charged = src.source === 'adjustment' ? 'r.delta_charged_nano' : 'r.charged_nano';
  return `SELECT w.account_id, w.seq, '${src.source}'::text AS source, ${src.tor} AS tor, r.category,
              (w.prev_end IS NOT NULL AND ${bt} < w.prev_end) AS late, ${src.reason}::text AS reason,
              ${correctsSql(s, bt)} AS corrects,
              count(*)::text AS n, sum(${usage})::text AS usage, sum(${charged})::text AS charged
         FROM ${s}.${src.table} r JOIN ${w} ON r.account_id = w.account_id
        WHERE r.tenant = $1 AND (${lo} IS NULL OR ${src.stored} >= ${lo})
          AND ${member(src.stored, bt)}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`;
}

export { SOURCES as USAGE_SOURCES };

/** Usage of the bills from rated CDRs, rated records and usage adjustments (three statements). */
export async function usageOf(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  bills: BillWindow[],
): Promise<UsageSum[]> {
  if (bills.length === 0) return [];
  const w = windows(bills);
  const params = [tenant, ...w.params, lowerBound(bills)];
  const out: UsageSum[] = [];
  for (const src of SOURCES) {
    const r = await db.query<SumRow>(
      `${usageSql(schema, src, w.sql, '$8::timestamptz')} ORDER BY 1, 2, 4, 5, 6, 7`,
      params,
    );
    out.push(...r.rows.map(toSum));
  }
  return out;
}

/** The applied charges of the bills in `w` (as usageSql), with `ord` to keep them in id order. */
export function chargesSql(schema: string, w: string, lo: string): string {
  const bt = 'least(c.event_time, c.stored_at)';
  return `SELECT w.account_id, w.seq, c.id::text, c.id AS ord, c.kind, c.description, c.quantity::text,
            c.amount_nano::text AS amount, c.currency, c.tax_code, c.service_start, c.service_end
       FROM ${checkSchema(schema)}.charges c JOIN ${w} ON c.account_id = w.account_id
      WHERE c.tenant = $1 AND c.status = 'applied' AND (${lo} IS NULL OR c.stored_at >= ${lo})
        AND ${member('c.stored_at', bt)}`;
}

export interface ChargeSqlRow {
  account_id: string;
  seq: number;
  id: string;
  kind: ChargeRow['kind'];
  description: string;
  quantity: string | null;
  amount: string;
  currency: string;
  tax_code: string | null;
  service_start: Date | null;
  service_end: Date | null;
}

export const toCharge = (x: ChargeSqlRow): ChargeRow => ({
  accountId: x.account_id,
  seq: x.seq,
  id: x.id,
  kind: x.kind,
  description: x.description,
  quantity: x.quantity,
  amountNano: BigInt(x.amount),
  currency: x.currency,
  taxCode: x.tax_code,
  serviceStart: x.service_start,
  serviceEnd: x.service_end,
});

/** Applied charges (fees, one-offs, …) of the bills, one line each, in id order. */
export async function chargesOf(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  bills: BillWindow[],
): Promise<ChargeRow[]> {
  if (bills.length === 0) return [];
  const w = windows(bills);
  const r = await db.query<ChargeSqlRow>(
    `${chargesSql(schema, w.sql, '$8::timestamptz')} ORDER BY w.account_id, w.seq, c.id`,
    [tenant, ...w.params, lowerBound(bills)],
  );
  return r.rows.map(toCharge);
}
