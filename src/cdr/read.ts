/**
 * Reads a CDR file (CSV, or gzip-compressed CSV: detected by its magic bytes) in chunks of whole
 * lines, in file order, each with the number of its first line and the bytes read so far (for
 * progress bars). Chunks go to the rating workers as they are (their bytes are transferred, not
 * copied); `readCdrBatches` parses them here instead, for callers that want records.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import {
  NATIVE_MAPPING,
  type CdrField,
  type CdrRecord,
  type CdrReject,
  type ColumnMapping,
} from './format.js';
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
  /** Bytes of the file (compressed, if it is) read so far. */
  bytesRead: number;
}

export interface CdrFile {
  /** Column positions of our fields, from the header. */
  index: Partial<Record<CdrField, number>>;
  chunks: AsyncGenerator<CdrChunk>;
  /** Closes the file (an import that stops early). */
  close(): void;
}

export class CdrFileError extends Error {
  constructor(
    readonly code: 'MISSING_COLUMNS' | 'EMPTY_FILE',
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

function countLines(b: Buffer): number {
  let n = 0;
  for (let at = b.indexOf(10); at >= 0; at = b.indexOf(10, at + 1)) n++;
  return n;
}

/** A fresh ArrayBuffer holding exactly these bytes (stream buffers share pooled memory). */
function own(b: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  return ab;
}

/** Drops the first `n` lines of b (or all of it); returns what is left. */
function dropLines(b: Buffer, n: number): Buffer {
  let at = 0;
  for (let k = 0; k < n; k++) {
    const nl = b.indexOf(10, at);
    if (nl < 0) return b.subarray(b.length);
    at = nl + 1;
  }
  return b.subarray(at);
}

/** Chunks of whole lines after the header, about `chunkBytes` each, from line `skipUntil` + 1 on. */
async function* chunksOf(
  input: AsyncIterable<Buffer>,
  file: { bytesRead: number },
  first: Buffer,
  chunkBytes: number,
  skipUntil: number,
): AsyncGenerator<CdrChunk> {
  let pending = first;
  let line = 2;
  const emit = (whole: Buffer): CdrChunk | null => {
    const lines = countLines(whole) + (whole.length > 0 && whole[whole.length - 1] !== 10 ? 1 : 0);
    const from = line;
    line += lines;
    // Lines up to skipUntil were stored by an earlier run of this file: they are not read again.
    const skip = Math.min(lines, Math.max(0, skipUntil - from + 1));
    if (skip === lines) return null;
    const b = skip ? dropLines(whole, skip) : whole;
    return { bytes: own(b), firstLine: from + skip, lines: lines - skip, bytesRead: file.bytesRead };
  };
  // As many chunks as the bytes hold, each cut after the last line break within chunkBytes (the
  // bytes read with the header first: a small file may be all there).
  function* whole(): Generator<CdrChunk> {
    while (pending.length >= chunkBytes) {
      let cut = pending.lastIndexOf(10, chunkBytes - 1);
      if (cut < 0) cut = pending.indexOf(10, chunkBytes); // a line longer than a chunk
      if (cut < 0) break;
      const c = emit(pending.subarray(0, cut + 1));
      if (c) yield c;
      pending = pending.subarray(cut + 1);
    }
  }
  yield* whole();
  for await (const data of input) {
    pending = pending.length ? Buffer.concat([pending, data]) : data;
    yield* whole();
  }
  if (pending.length) {
    const c = emit(pending);
    if (c) yield c;
  }
}

/**
 * Opens a CDR file: reads its header (refusing one without our required columns) and its chunks,
 * from after line `skipUntilLine` when an earlier run stored that far.
 */
export async function openCdrFile(
  path: string,
  opts: { mapping?: ColumnMapping; chunkBytes?: number; skipUntilLine?: number } = {},
): Promise<CdrFile> {
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const gunzip = (await isGzip(path)) ? file.pipe(createGunzip()) : null;
  const input: AsyncIterable<Buffer> = gunzip ?? file;
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let nl = -1;
  while (nl < 0) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value as Buffer]);
    nl = head.indexOf(10);
  }
  if (head.length === 0) {
    file.destroy();
    throw new CdrFileError('EMPTY_FILE', `${path}: no header line`);
  }
  const headerLine = head.toString('utf8', 0, nl < 0 ? head.length : nl).replace(/\r$/, '');
  const header = columnIndex(headerLine, mapping);
  if (header.missing.length) {
    file.destroy();
    throw new CdrFileError('MISSING_COLUMNS', `${path}: the header lacks ${header.missing.join(', ')}`);
  }
  const rest = { [Symbol.asyncIterator]: () => it } as AsyncIterable<Buffer>;
  return {
    index: header.index,
    chunks: chunksOf(
      rest,
      file,
      nl < 0 ? Buffer.alloc(0) : head.subarray(nl + 1),
      opts.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      opts.skipUntilLine ?? 0,
    ),
    close: () => {
      gunzip?.destroy();
      file.destroy();
    },
  };
}

export interface CdrBatch {
  records: CdrRecord[];
  rejects: CdrReject[];
  bytesRead: number;
}

/** The file's records and rejects, a chunk at a time, parsed on this thread. */
export async function* readCdrBatches(
  path: string,
  opts: { mapping?: ColumnMapping; chunkBytes?: number; skipUntilLine?: number } = {},
): AsyncGenerator<CdrBatch> {
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  const f = await openCdrFile(path, opts);
  for await (const c of f.chunks) {
    const text = Buffer.from(c.bytes).toString('utf8');
    const { records, rejects } = parseLines(text, c.firstLine, f.index, mapping);
    yield { records, rejects, bytesRead: c.bytesRead };
  }
}
