/**
 * `cli cdr rejects --file F | --since T [--csv]`: the lines imports could not take (cdr_rejects),
 * in file and line order, with their reasons: readable lines, or CSV to fix and feed again. Read a
 * page at a time along the table's key, so a file with millions of rejects streams.
 */
import type { Pool } from 'pg';
import { rejectReason } from '../cdr/chunk.js';
import { withHistory } from './engine.js';
import { stoppedByOutage } from './stop.js';

export interface RejectsOptions {
  /** The file as imports name it: the path given to `cdr import`, or an HTTP job's id. */
  file?: string;
  /** Rejects stored at or after this time (ISO-8601). */
  since?: string;
  csv: boolean;
}

interface RejectRow {
  file_id: string;
  /** A bigint, as text (pg's default for int8). */
  line: string;
  reason: string;
  detail: string;
  raw: string;
  created_at: Date;
}

const PAGE_ROWS = 5000;
const CSV_COLUMNS = ['file', 'line', 'reason', 'detail', 'raw', 'stored_at'] as const;

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function format(r: RejectRow, csv: boolean): string {
  // Rows stored under an older name of a reason read as today's.
  const reason = rejectReason(r.reason);
  if (csv)
    return (
      [r.file_id, r.line, reason, r.detail, r.raw, r.created_at.toISOString()].map(csvField).join(',') + '\n'
    );
  return `${r.file_id}:${r.line} ${reason}: ${r.detail}\n    ${r.raw}\n`;
}

async function* pages(pool: Pool, schema: string, o: RejectsOptions): AsyncGenerator<RejectRow[]> {
  let after: [string, string] = ['', '0'];
  for (;;) {
    const { rows } = await pool.query<RejectRow>(
      `SELECT file_id, line, reason, detail, raw, created_at FROM ${schema}.cdr_rejects
        WHERE (file_id, line) > ($1, $2::bigint)
          AND ($3::text IS NULL OR file_id = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
        ORDER BY file_id, line LIMIT ${PAGE_ROWS}`,
      [after[0], after[1], o.file ?? null, o.since ?? null],
    );
    if (rows.length === 0) return;
    yield rows;
    const last = rows[rows.length - 1]!;
    after = [last.file_id, last.line];
  }
}

export async function cdrRejectsCommand(o: RejectsOptions, out: NodeJS.WritableStream): Promise<number> {
  return withHistory(async (pool, schema) => {
    const byReason: Record<string, number> = {};
    // A reader that goes away (`| head`) ends the listing, quietly.
    let closed = false;
    out.on('error', () => (closed = true));
    if (o.csv) out.write(CSV_COLUMNS.join(',') + '\n');
    for await (const rows of pages(pool, schema, o)) {
      if (closed) break;
      const text = rows.map((r) => format(r, o.csv)).join('');
      if (!out.write(text))
        await new Promise((r) => {
          out.once('drain', r);
          out.once('error', r);
        });
      for (const r of rows) byReason[rejectReason(r.reason)] = (byReason[rejectReason(r.reason)] ?? 0) + 1;
    }
    const total = Object.values(byReason).reduce((a, b) => a + b, 0);
    const reasons = Object.entries(byReason)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stderr.write(`${total} reject${total === 1 ? '' : 's'}${reasons ? `: ${reasons}` : ''}\n`);
    return 0;
  }).catch((err: unknown) =>
    stoppedByOutage(err, 'cdr rejects', 'Nothing was changed: run the same command again when they answer'),
  );
}
