/**
 * Reads a CDR file (CSV, or gzip-compressed CSV: detected by its magic bytes) in chunks of whole
 * lines, in file order, each with the number of its first line and the bytes read so far (for
 * progress bars). Chunks go to the rating workers as they are (their bytes are transferred, not
 * copied); `readCdrBatches` parses them here instead, for callers that want records.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import {
  NATIVE_MAPPING,
  type CdrField,
  type CdrRecord,
  type CdrReject,
  type ColumnMapping,
  type LineRules,
} from './format.js';
import { LineCutter, DEFAULT_MAX_LINE_BYTES, type CutChunk } from './cut.js';
import { columnIndex, parseLines } from './parse.js';

/**
 * A chunk is a batch: the larger, the more CDRs of one account are charged in one sum (the common
 * case costs per account, not per CDR); 4 MiB is about 50,000 lines.
 */
export const DEFAULT_CHUNK_BYTES = 4 << 20;

export interface CdrChunk {
  /** Whole lines (the last one ends with a line break, or the file does), UTF-8. */
  bytes: ArrayBuffer;
  /** The 1-based line number of the chunk's first line. */
  firstLine: number;
  /** Lines in the chunk. */
  lines: number;
  /** Lines of the chunk refused before parsing (too long). */
  rejects: CdrReject[];
  /** Bytes of the file (compressed, if it is) read so far. */
  bytesRead: number;
}

export interface CdrFile {
  /** Column positions of our fields, from the header. */
  index: Partial<Record<CdrField, number>>;
  /** Columns in the header. */
  columns: number;
  chunks: AsyncGenerator<CdrChunk>;
  /** Closes the file (an import that stops early). */
  close(): void;
}

export class CdrFileError extends Error {
  constructor(
    readonly code: 'MISSING_COLUMNS' | 'EMPTY_FILE' | 'BAD_HEADER' | 'TOO_LARGE' | 'UNREADABLE',
    message: string,
  ) {
    super(message);
  }
}

/**
 * What a file is, to know an earlier run of it: its size, its modification time and the SHA-1 of
 * its first 256 KiB (a file rewritten under the same name, edited, appended to or cut is another
 * file).
 */
export async function fileFingerprint(path: string): Promise<string> {
  const f = await open(path, 'r');
  try {
    const { size, mtimeMs } = await f.stat();
    const { buffer, bytesRead } = await f.read(Buffer.alloc(256 << 10), 0, 256 << 10, 0);
    const head = createHash('sha1').update(buffer.subarray(0, bytesRead)).digest('hex');
    return `${size}:${Math.floor(mtimeMs)}:${head}`;
  } finally {
    await f.close();
  }
}

async function isGzip(path: string): Promise<boolean> {
  const f = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await f.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await f.close();
  }
}

/** Drops the first `n` lines of a chunk's bytes (a chunk holds more than n lines). */
function dropLines(bytes: ArrayBuffer, n: number): ArrayBuffer {
  const b = Buffer.from(bytes);
  let at = 0;
  for (let k = 0; k < n; k++) at = b.indexOf(10, at) + 1;
  return bytes.slice(at);
}

/** Chunks of whole lines after the header, about `chunkBytes` each, from line `skipUntil` + 1 on. */
async function* chunksOf(
  input: AsyncIterable<Buffer>,
  file: { bytesRead: number },
  first: Buffer,
  cutter: LineCutter,
  skipUntil: number,
): AsyncGenerator<CdrChunk> {
  const ready = (cut: CutChunk[]): CdrChunk[] => {
    const out: CdrChunk[] = [];
    for (const c of cut) {
      // Lines up to skipUntil were stored by an earlier run of this file: they are not read again.
      const skip = Math.min(c.lines, Math.max(0, skipUntil - c.firstLine + 1));
      if (skip === c.lines) continue;
      out.push({
        bytes: skip ? dropLines(c.bytes, skip) : c.bytes,
        firstLine: c.firstLine + skip,
        lines: c.lines - skip,
        rejects: skip ? c.rejects.filter((j) => j.line > skipUntil) : c.rejects,
        bytesRead: file.bytesRead,
      });
    }
    return out;
  };
  yield* ready(cutter.push(first));
  for await (const data of input) yield* ready(cutter.push(data));
  yield* ready(cutter.end());
}

/** The header's text, without its carriage return. */
function headerText(parts: Buffer[]): string {
  return Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
}

/** The header line: read up to its line break (at most `maxBytes`), and the bytes after it. */
async function readHeader(
  it: AsyncIterator<Buffer>,
  path: string,
  maxBytes: number,
): Promise<{ header: string; rest: Buffer }> {
  const parts: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await it.next();
    if (next.done) break;
    const b = next.value;
    const nl = b.indexOf(10);
    if (nl >= 0 && size + nl <= maxBytes) {
      parts.push(b.subarray(0, nl));
      return { header: headerText(parts), rest: b.subarray(nl + 1) };
    }
    size += b.length;
    if (size > maxBytes || nl >= 0)
      throw new CdrFileError('BAD_HEADER', `${path}: the header line is longer than ${maxBytes} bytes`);
    parts.push(b);
  }
  if (size === 0) throw new CdrFileError('EMPTY_FILE', `${path}: no header line`);
  return { header: headerText(parts), rest: Buffer.alloc(0) };
}

/** The file's bytes as text: gunzipped first when it is gzip. */
async function openStream(
  path: string,
): Promise<{ input: AsyncIterable<Buffer>; file: ReadStream; close(): void }> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = (await isGzip(path)) ? file.pipe(createGunzip()) : null;
  return {
    input: gunzip ?? file,
    file,
    close: () => {
      gunzip?.destroy();
      file.destroy();
    },
  };
}

export interface OpenOptions {
  mapping?: ColumnMapping;
  chunkBytes?: number;
  /** Lines longer than this are rejects (LINE_TOO_LONG); the header may not be (default 64 KiB). */
  maxLineBytes?: number;
  skipUntilLine?: number;
}

/**
 * Opens a CDR file: reads its header (refusing one without our required columns) and its chunks,
 * from after line `skipUntilLine` when an earlier run stored that far.
 */
export async function openCdrFile(path: string, opts: OpenOptions = {}): Promise<CdrFile> {
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = await openStream(path);
  const it = stream.input[Symbol.asyncIterator]();
  let header: ReturnType<typeof columnIndex>;
  let rest: Buffer;
  try {
    const head = await readHeader(it, path, maxLineBytes);
    rest = head.rest;
    try {
      header = columnIndex(head.header, mapping);
    } catch (err) {
      throw new CdrFileError('BAD_HEADER', `${path}: the header is not CSV (${(err as Error).message})`);
    }
    if (header.missing.length)
      throw new CdrFileError('MISSING_COLUMNS', `${path}: the header lacks ${header.missing.join(', ')}`);
  } catch (err) {
    stream.close();
    throw err;
  }
  const cutter = new LineCutter(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, maxLineBytes, 2);
  const more = { [Symbol.asyncIterator]: () => it } as AsyncIterable<Buffer>;
  return {
    index: header.index,
    columns: header.columns,
    chunks: chunksOf(more, stream.file, rest, cutter, opts.skipUntilLine ?? 0),
    close: stream.close,
  };
}

/**
 * Checks a file handed over before it is imported: its header, and that it holds no more than
 * `maxBytes` once decompressed (a small gzip may unpack to gigabytes). Reads it through once.
 */
export async function checkCdrFile(
  path: string,
  opts: { maxBytes: number; mapping?: ColumnMapping; maxLineBytes?: number },
): Promise<void> {
  let stream: Awaited<ReturnType<typeof openStream>> | undefined;
  let bytes = 0;
  try {
    // Inside the try: a gzip cut short within the header line fails here, as a file that is unreadable.
    (await openCdrFile(path, opts)).close();
    stream = await openStream(path);
    for await (const b of stream.input) {
      bytes += (b as Buffer).length;
      if (bytes > opts.maxBytes)
        throw new CdrFileError(
          'TOO_LARGE',
          `the CDR file holds more than ${opts.maxBytes} bytes (decompressed)`,
        );
    }
  } catch (err) {
    if (err instanceof CdrFileError) throw err;
    throw new CdrFileError('UNREADABLE', `the CDR file cannot be read to its end: ${(err as Error).message}`);
  } finally {
    stream?.close();
  }
}

export interface CdrBatch {
  records: CdrRecord[];
  rejects: CdrReject[];
  bytesRead: number;
}

/** The file's records and rejects, a chunk at a time, parsed on this thread. */
export async function* readCdrBatches(
  path: string,
  opts: OpenOptions & { tenant?: string } = {},
): AsyncGenerator<CdrBatch> {
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  const f = await openCdrFile(path, opts);
  const rules: LineRules = { index: f.index, columns: f.columns, mapping };
  if (opts.tenant !== undefined) rules.tenant = opts.tenant;
  for await (const c of f.chunks) {
    const text = Buffer.from(c.bytes).toString('utf8');
    const { records, rejects } = parseLines(text, c.firstLine, rules);
    yield {
      records,
      rejects: [...c.rejects, ...rejects].sort((x, y) => x.line - y.line),
      bytesRead: c.bytesRead,
    };
  }
}
