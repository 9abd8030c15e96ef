/**
 * Invoice series and their gapless numbers. A number is taken under the series row's lock
 * (`SELECT … FOR UPDATE`) in the transaction that issues the document, so a rollback gives it
 * back and concurrent finalizers queue on the row: every number is used once, in order.
 */
import type { PoolClient } from 'pg';
import { DEFAULT_SERIES, DocumentError } from './model.js';

export type SeriesType = 'invoice' | 'credit_note' | 'statement';

export interface SeriesBody {
  documentType: SeriesType;
  prefix: string;
  padding: number;
  reset: 'never' | 'yearly';
  nextNumber: number;
}

export interface SeriesState {
  code: string;
  documentType: SeriesType;
  prefix: string;
  padding: number;
  reset: 'never' | 'yearly';
  year: number | null;
  nextNumber: bigint;
  used: boolean;
  lastHash: string | null;
}

/** `{prefix}{year}-{seq}` for a yearly series, `{prefix}{seq}` for one that never resets. */
export function formatNumber(
  s: Pick<SeriesState, 'prefix' | 'padding' | 'reset'>,
  year: number,
  seq: bigint,
) {
  const digits = seq.toString().padStart(s.padding, '0');
  return s.reset === 'yearly' ? `${s.prefix}${year}-${digits}` : `${s.prefix}${digits}`;
}

const DEFAULTS: Record<string, SeriesBody> = {
  [DEFAULT_SERIES.invoice]: {
    documentType: 'invoice',
    prefix: 'INV',
    padding: 6,
    reset: 'yearly',
    nextNumber: 1,
  },
  [DEFAULT_SERIES.statement]: {
    documentType: 'statement',
    prefix: 'STM',
    padding: 6,
    reset: 'yearly',
    nextNumber: 1,
  },
  [DEFAULT_SERIES.credit_note]: {
    documentType: 'credit_note',
    prefix: 'CN',
    padding: 6,
    reset: 'yearly',
    nextNumber: 1,
  },
};

const COLUMNS = `code, document_type AS "documentType", prefix, padding, reset, year,
  next_number::text AS "nextNumber", used, last_hash AS "lastHash"`;

type SeriesRow = Omit<SeriesState, 'nextNumber'> & { nextNumber: string };
const stateOf = (r: SeriesRow): SeriesState => ({ ...r, nextNumber: BigInt(r.nextNumber) });

/**
 * Locks a series for numbering (until the transaction ends). The three default series (INV, STM,
 * CN) are made on first use; any other code must have been PUT first.
 */
export async function lockSeries(
  client: PoolClient,
  schema: string,
  tenant: string,
  code: string,
  type: SeriesType,
): Promise<SeriesState> {
  const d = DEFAULTS[code];
  if (d && d.documentType === type)
    await client.query(
      `INSERT INTO ${schema}.invoice_series (tenant, code, document_type, prefix, padding, reset, next_number)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [tenant, code, d.documentType, d.prefix, d.padding, d.reset, d.nextNumber],
    );
  const r = await client.query<SeriesRow>(
    `SELECT ${COLUMNS} FROM ${schema}.invoice_series WHERE tenant = $1 AND code = $2 FOR UPDATE`,
    [tenant, code],
  );
  const row = r.rows[0];
  if (!row) throw new DocumentError('SERIES_NOT_FOUND', `no invoice series ${code}`);
  if (row.documentType !== type)
    throw new DocumentError('INVALID_REQUEST', `series ${code} numbers ${row.documentType}s, not ${type}s`);
  return stateOf(row);
}

/**
 * The next number of a locked series for a document issued in local `year`, advancing the state
 * in memory (saveSeries writes it). A yearly series restarts at 1 on the first document of a new
 * year; a document dated in a year the series has already left is refused (numbers would go back).
 */
export function takeNumber(s: SeriesState, year: number): { number: string; seq: bigint } {
  if (s.reset === 'yearly' && s.year !== null && year < s.year)
    throw new DocumentError('SERIES_YEAR_CLOSED', `series ${s.code} already numbers ${s.year}, not ${year}`);
  if (s.reset === 'yearly' && s.year !== null && year > s.year) s.nextNumber = 1n;
  s.year = year;
  const seq = s.nextNumber;
  s.nextNumber += 1n;
  s.used = true;
  return { number: formatNumber(s, year, seq), seq };
}

export async function saveSeries(client: PoolClient, schema: string, tenant: string, s: SeriesState) {
  await client.query(
    `UPDATE ${schema}.invoice_series SET year = $3, next_number = $4, used = $5, last_hash = $6, updated_at = now()
      WHERE tenant = $1 AND code = $2`,
    [tenant, s.code, s.year, s.nextNumber.toString(), s.used, s.lastHash],
  );
}

/**
 * Creates or changes a series. Once a number was taken any change is refused (409 SERIES_IN_USE):
 * a new `nextNumber`, padding, prefix or reset would break the sequence already issued. The same
 * body again is fine (a replay).
 */
export async function putSeries(
  client: PoolClient,
  schema: string,
  tenant: string,
  code: string,
  b: SeriesBody,
) {
  const r = await client.query<SeriesRow>(
    `SELECT ${COLUMNS} FROM ${schema}.invoice_series WHERE tenant = $1 AND code = $2 FOR UPDATE`,
    [tenant, code],
  );
  const cur = r.rows[0] ? stateOf(r.rows[0]) : undefined;
  if (cur?.used) {
    const same =
      cur.documentType === b.documentType &&
      cur.prefix === b.prefix &&
      cur.padding === b.padding &&
      cur.reset === b.reset &&
      cur.nextNumber === BigInt(b.nextNumber);
    if (!same)
      throw new DocumentError('SERIES_IN_USE', `series ${code} has issued numbers: it cannot change`);
  } else {
    await client.query(
      `INSERT INTO ${schema}.invoice_series (tenant, code, document_type, prefix, padding, reset, next_number)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant, code) DO UPDATE SET document_type = $3, prefix = $4, padding = $5, reset = $6,
         next_number = $7, updated_at = now()`,
      [tenant, code, b.documentType, b.prefix, b.padding, b.reset, b.nextNumber],
    );
  }
  return { code, ...b, used: cur?.used ?? false };
}
