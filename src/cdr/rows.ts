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

/**
 * The claim of a CDR id in its tenant (a CDR is known by both: switches of different operators
 * number their records alike), with what the CDR said (content-hash.ts) to tell a repeat from a conflict.
 */
export const CLAIM_COLUMNS = ['tenant', 'cdr_id', 'answer_time', 'file_id', 'content_hash'] as const;

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
 * COPY text rows written into bytes as they are made, with where each row ends (in bytes). Rows are
 * encoded a few kilobytes at a time (one UTF-8 encoding of many short strings costs less than one
 * per row), and `take` hands out the bytes without a copy, so they can be moved to another thread.
 */
export class CopyBuffer {
  private buf: Buffer;
  private bytes = 0;
  private ends: Int32Array;
  private rows = 0;
  /** Rows appended but not yet encoded, their text joined. */
  private pending: string[] = [];
  private pendingText = '';

  /** `expectBytes` and `expectRows`: about what will be written (both grow if more is). */
  constructor(expectBytes = 1 << 20, expectRows = 1024) {
    this.buf = Buffer.allocUnsafeSlow(expectBytes);
    this.ends = new Int32Array(expectRows);
  }

  /** Appends one row (with its line break). */
  append(row: string): void {
    this.pending.push(row);
    this.pendingText += row;
    if (this.pendingText.length >= 16384) this.flush();
  }

  private flush(): void {
    const text = this.pendingText;
    if (text.length === 0) return;
    const need = this.bytes + text.length * 3;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.bytes);
      this.buf = bigger;
    }
    if (this.rows + this.pending.length > this.ends.length) {
      const bigger = new Int32Array(Math.max(this.rows + this.pending.length, this.ends.length * 2));
      bigger.set(this.ends.subarray(0, this.rows));
      this.ends = bigger;
    }
    const written = this.buf.write(text, this.bytes, 'utf8');
    // ASCII (the common case): a character is a byte. Otherwise each row is measured.
    const ascii = written === text.length;
    let at = this.bytes;
    for (const row of this.pending) {
      at += ascii ? row.length : Buffer.byteLength(row, 'utf8');
      this.ends[this.rows++] = at;
    }
    this.bytes += written;
    this.pending = [];
    this.pendingText = '';
  }

  /** Bytes written so far (rows appended but not yet encoded included). */
  get length(): number {
    this.flush();
    return this.bytes;
  }

  /**
   * The bytes and where each row ends, as views of buffers of their own (to move to another thread;
   * the buffer is not to be used after).
   */
  take(): { bytes: Uint8Array; ends: Int32Array } {
    this.flush();
    return {
      bytes: new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.bytes),
      ends: this.ends.subarray(0, this.rows),
    };
  }
}
