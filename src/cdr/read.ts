/**
 * Streams a CDR file (CSV, or gzip-compressed CSV: detected by its magic bytes) into batches of
 * parsed records and rejects, in file order, with the byte count read so far for progress bars.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { NATIVE_MAPPING, type CdrRecord, type CdrReject, type ColumnMapping } from './format.js';
import { columnIndex, parseCdrLine } from './parse.js';

export interface CdrBatch {
  records: CdrRecord[];
  rejects: CdrReject[];
  /** Bytes of the file (compressed, if it is) read so far. */
  bytesRead: number;
}

export class CdrFileError extends Error {
  constructor(
    readonly code: 'MISSING_COLUMNS' | 'EMPTY_FILE',
    message: string,
  ) {
    super(message);
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

export async function* readCdrBatches(
  path: string,
  opts: { mapping?: ColumnMapping; batchSize?: number } = {},
): AsyncGenerator<CdrBatch> {
  const mapping = opts.mapping ?? NATIVE_MAPPING;
  const size = opts.batchSize ?? 5000;
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const lines = createInterface({
    input: (await isGzip(path)) ? file.pipe(createGunzip()) : file,
    crlfDelay: Infinity,
  });
  let index: ReturnType<typeof columnIndex>['index'] | undefined;
  let batch: CdrBatch = { records: [], rejects: [], bytesRead: 0 };
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (index === undefined) {
      const header = columnIndex(raw, mapping);
      if (header.missing.length)
        throw new CdrFileError('MISSING_COLUMNS', `${path}: the header lacks ${header.missing.join(', ')}`);
      index = header.index;
      continue;
    }
    if (raw.trim() === '') continue;
    const parsed = parseCdrLine(raw, n, index, mapping);
    if ('reason' in parsed) batch.rejects.push(parsed);
    else batch.records.push(parsed);
    if (batch.records.length + batch.rejects.length >= size) {
      batch.bytesRead = file.bytesRead;
      yield batch;
      batch = { records: [], rejects: [], bytesRead: 0 };
    }
  }
  if (index === undefined) throw new CdrFileError('EMPTY_FILE', `${path}: no header line`);
  batch.bytesRead = file.bytesRead;
  if (batch.records.length + batch.rejects.length > 0) yield batch;
}
