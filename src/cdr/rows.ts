/**
 * Rated CDRs as PostgreSQL COPY rows (text format: tab-separated, backslash escapes), built by the
 * rating workers so the main thread only adds what charging decided (the money taken, last).
 */

/** The columns of a rated CDR row, in COPY order; `charged_nano` comes last, added after charging. */
export const RATED_COLUMNS = [
  'cdr_id',
  'tenant',
  'account_id',
  'subscriber',
  'category',
  'service',
  'destination',
  'answer_time',
  'usage',
  'rated_usage',
  'cost_nano',
  'currency',
  'breakdown',
  'file_id',
  'line',
  'charged_nano',
] as const;

export const CLAIM_COLUMNS = ['cdr_id', 'answer_time', 'file_id'] as const;

const SPECIAL = /[\\\t\n\r]/;

/** One value of a COPY text row. */
export function copyField(v: string | number): string {
  if (typeof v === 'number') return String(v);
  if (!SPECIAL.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/** JSON as a COPY text value: JSON text has no raw tab or line break, only backslashes to double. */
export function copyJson(json: string): string {
  return json.indexOf('\\') < 0 ? json : json.replaceAll('\\', '\\\\');
}

/** A COPY text row of these values, without its line break. */
export function copyRow(values: (string | number)[]): string {
  let out = copyField(values[0]!);
  for (let i = 1; i < values.length; i++) out += `\t${copyField(values[i]!)}`;
  return out;
}

/**
 * COPY text written straight into bytes as rows are made: a row string dies young (cheap for the
 * GC) instead of living until a chunk's rows are joined. Offsets are in bytes.
 */
export class CopyBuffer {
  private buf: Buffer;
  length = 0;

  /** `expectBytes`: about what will be written (it grows if more is). */
  constructor(expectBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(expectBytes);
  }

  append(s: string): void {
    const need = this.length + s.length * 3;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** The bytes written, in an ArrayBuffer of their own (to pass to another thread). */
  take(): Uint8Array {
    const out = new Uint8Array(this.length);
    out.set(this.buf.subarray(0, this.length));
    return out;
  }
}
