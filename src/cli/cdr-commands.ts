/**
 * `cli cdr import FILE...`: rate, charge and store CDR files against the engine's Redis and
 * PostgreSQL, with progress and a summary per file. Ctrl-C (or SIGTERM) stops it cleanly: the chunks
 * being charged are stored, the summary says how far it got, and the exit code is 3.
 * `cli cdr rerate --from T --to T [--account ID]`: price stored CDRs again and move the differences.
 */
import { readFileSync, statSync } from 'node:fs';
import { importCdrFile, type ImportCounters, type ImportDeps } from '../cdr/pipeline.js';
import { rerateCdrs } from '../cdr/rerate.js';
import type { ColumnMapping } from '../cdr/format.js';
import { nanoToDecimal } from '../rating/money.js';
import { rejectReason } from '../cdr/chunk.js';
import { withEngine } from './engine.js';
import { startProgress } from './progress.js';
import { quitOnSignals, STOPPED, stoppedByOutage, stopOnSignals } from './stop.js';
import { countsText, importSummary } from './summary.js';

export interface ImportOptions {
  mapping?: string;
  /** The file's tenant: lines naming another are rejects (TENANT_MISMATCH); a file without a tenant column is its. */
  tenant?: string;
  progressSeconds: number;
}

export async function cdrImportCommand(files: string[], opts: ImportOptions): Promise<number> {
  const mapping = opts.mapping
    ? (JSON.parse(readFileSync(opts.mapping, 'utf8')) as ColumnMapping)
    : undefined;
  const stop = stopOnSignals('the chunks being charged are stored');
  try {
    return await withEngine(async (e) => {
      const deps: ImportDeps = { balances: e.balances, pool: e.pool, schema: e.schema, rating: e.rating };
      const notStarted = (rest: string[]) => {
        if (rest.length) process.stdout.write(`not started: ${rest.join(', ')}\n`);
        return STOPPED;
      };
      for (const [i, file] of files.entries()) {
        if (stop.signal.aborted) return notStarted(files.slice(i));
        const c = await importOne(deps, file, {
          ...(mapping ? { mapping } : {}),
          chunkBytes: e.config.cdrChunkKiB * 1024,
          maxLineBytes: e.config.cdrMaxLineBytes,
          ...(opts.tenant ? { tenant: opts.tenant } : {}),
          signal: stop.signal,
          progressSeconds: opts.progressSeconds,
        });
        if (c.stoppedAfterLine !== undefined) return notStarted(files.slice(i + 1));
      }
      return 0; // a signal that came after the last chunk was read stopped nothing
    });
  } catch (err) {
    return stoppedByOutage(
      err,
      'cdr import',
      'Nothing is lost and nothing is counted twice: run the same command again when they answer, and it goes on from the last lines stored',
    );
  } finally {
    stop.dispose();
  }
}

async function importOne(
  deps: ImportDeps,
  file: string,
  opts: {
    mapping?: ColumnMapping;
    chunkBytes: number;
    maxLineBytes: number;
    tenant?: string;
    signal: AbortSignal;
    progressSeconds: number;
  },
): Promise<ImportCounters> {
  const progress = startProgress({
    label: file,
    total: statSync(file).size,
    everySeconds: opts.progressSeconds,
  });
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const c = await importCdrFile(deps, file, {
    ...(opts.mapping ? { mapping: opts.mapping } : {}),
    chunkBytes: opts.chunkBytes,
    maxLineBytes: opts.maxLineBytes,
    // The operator says whose file it is: lines of another tenant are rejects, as in an upload.
    ...(opts.tenant ? { tenant: opts.tenant, enforceTenant: true } : {}),
    signal: opts.signal,
    onProgress: (p) => progress.update(p.bytesRead, countsText(p, seconds())),
  })
    .catch((err: unknown) => {
      // A gzip cut short or corrupt: zlib's message ("unexpected end of file") names no file.
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && code.startsWith('Z_'))
        throw new Error(`${file} cannot be read to its end: ${(err as Error).message}`);
      throw err;
    })
    .finally(() => progress.stop());
  process.stdout.write(importSummary(file, c, seconds()) + '\n');
  return c;
}

export async function cdrRerateCommand(opts: {
  from: string;
  to: string;
  account?: string;
  progressSeconds: number;
}): Promise<number> {
  const what = `${opts.from} .. ${opts.to}${opts.account ? ` (account ${opts.account})` : ''}`;
  // A rerate stopped part way is finished by the next one (rerate.ts), so Ctrl-C may quit at once.
  const stopListening = quitOnSignals('the next cdr rerate finishes what this one began');
  return withEngine(async (e) => {
    const progress = startProgress({ label: `rerate ${what}`, total: 0, everySeconds: opts.progressSeconds });
    const c = await rerateCdrs(
      { pool: e.pool, schema: e.schema, rating: e.rating, balances: e.balances },
      {
        from: opts.from,
        to: opts.to,
        ...(opts.account ? { accountId: opts.account } : {}),
        onProgress: (p) =>
          progress.update(
            p.examined,
            `${p.examined.toLocaleString('en')} examined, ${p.changed.toLocaleString('en')} changed`,
          ),
      },
    ).finally(() => progress.stop());
    const failed =
      Object.entries(c.failed)
        .map(([k, v]) => `${rejectReason(k)} ${v}`)
        .join(', ') || 'none';
    process.stdout.write(
      `rerated ${what}: examined ${c.examined}, changed ${c.changed}, unchanged ${c.unchanged}, ` +
        `bundle-paid (re-priced, not re-charged) ${c.skippedBundles}, failed: ${failed}; money moved ${nanoToDecimal(c.deltaNano)}\n`,
    );
    return 0;
  })
    .catch((err: unknown) =>
      stoppedByOutage(
        err,
        'cdr rerate',
        'Nothing is moved twice: run the same command again when they answer, and it finishes what this one began',
      ),
    )
    .finally(stopListening);
}
