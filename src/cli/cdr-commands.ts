/**
 * `cli cdr import FILE... [--mapping FILE]`: rate, charge and store CDR files against the engine's
 * Redis and PostgreSQL (configured like `npm start`), with a progress bar and a summary.
 * `cli cdr rerate --from T --to T [--account ID]`: price stored CDRs again and move the differences.
 */
import { readFileSync, statSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import { createBalanceStore } from '../balances/store.js';
import { importCdrFile, type ImportCounters } from '../cdr/pipeline.js';
import { createRatingPool } from '../cdr/pool.js';
import { ensureCdrSchema } from '../cdr/store.js';
import { rerateCdrs } from '../cdr/rerate.js';
import type { ColumnMapping } from '../cdr/format.js';
import { loadConfig } from '../config.js';
import { connectPostgres } from '../infra/postgres.js';
import { connectRedis } from '../infra/redis.js';
import { isUnavailable } from '../infra/unavailable.js';
import { nanoToDecimal } from '../rating/money.js';

function summary(file: string, c: ImportCounters, seconds: number): string {
  const rejected =
    Object.entries(c.rejected)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    `${file}: ${c.read.toLocaleString('en')} read in ${seconds.toFixed(1)} s (${Math.round(c.read / Math.max(seconds, 0.001)).toLocaleString('en')}/s)` +
      (c.resumedAfterLine
        ? `, going on after line ${c.resumedAfterLine.toLocaleString('en')} (stored by an earlier run)`
        : ''),
    `  stored ${c.stored.toLocaleString('en')}, duplicates ${c.duplicates.toLocaleString('en')}, rejected: ${rejected}`,
    `  charged ${nanoToDecimal(c.chargedNano)}`,
  ].join('\n');
}

export async function cdrImportCommand(files: string[], opts: { mapping?: string }): Promise<number> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const mapping = opts.mapping
    ? (JSON.parse(readFileSync(opts.mapping, 'utf8')) as ColumnMapping)
    : undefined;
  const redis = await connectRedis({ url: config.redisUrl, dataDir: config.dataDir });
  const pg = await connectPostgres({ url: config.databaseUrl, dataDir: config.dataDir });
  process.stderr.write(`balances: ${redis.description}\nhistory:  ${pg.description}\n`);
  const rating = createRatingPool({
    tariffDir: config.tariffDir,
    ...(config.tariffTimezone ? { timezone: config.tariffTimezone } : {}),
  });
  const schema = config.dbSchema;
  try {
    await ensureCdrSchema(pg.pool, schema);
    const deps = {
      balances: createBalanceStore({ redis: redis.redis, keyPrefix: config.keyPrefix }),
      pool: pg.pool,
      schema,
      rating,
    };
    for (const file of files) {
      const size = statSync(file).size;
      const bar = process.stderr.isTTY
        ? new SingleBar({
            format: `${file} [{bar}] {percentage}% | {rate}/s | ETA {eta}s | stored {stored} rejected {rejected}`,
            stream: process.stderr,
          })
        : null;
      bar?.start(size, 0, { rate: 0, stored: 0, rejected: 0 });
      const started = performance.now();
      const c = await importCdrFile(deps, file, {
        ...(mapping ? { mapping } : {}),
        chunkBytes: config.cdrChunkKiB * 1024,
        onProgress: (p) => {
          const rejected = Object.values(p.rejected).reduce((a, b) => a + b, 0);
          bar?.update(p.bytesRead, {
            rate: Math.round(p.read / ((performance.now() - started) / 1000)),
            stored: p.stored,
            rejected,
          });
        },
      }).finally(() => bar?.stop());
      process.stdout.write(summary(file, c, (performance.now() - started) / 1000) + '\n');
    }
    return 0;
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    process.stderr.write(
      `\ncdr import stopped: Redis or PostgreSQL is not answering (${err instanceof Error ? err.message : String(err)}).\n` +
        'Nothing is lost and nothing is counted twice: run the same command again when they answer, ' +
        'and it goes on from the last lines stored.\n',
    );
    return 3;
  } finally {
    await rating.close();
    await redis.stop();
    await pg.stop();
  }
}

export async function cdrRerateCommand(opts: {
  from: string;
  to: string;
  account?: string;
}): Promise<number> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const redis = await connectRedis({ url: config.redisUrl, dataDir: config.dataDir });
  const pg = await connectPostgres({ url: config.databaseUrl, dataDir: config.dataDir });
  const rating = createRatingPool({
    tariffDir: config.tariffDir,
    ...(config.tariffTimezone ? { timezone: config.tariffTimezone } : {}),
  });
  try {
    await ensureCdrSchema(pg.pool, config.dbSchema);
    const balances = createBalanceStore({ redis: redis.redis, keyPrefix: config.keyPrefix });
    const c = await rerateCdrs(
      { pool: pg.pool, schema: config.dbSchema, rating, balances },
      { from: opts.from, to: opts.to, ...(opts.account ? { accountId: opts.account } : {}) },
    );
    const failed =
      Object.entries(c.failed)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none';
    process.stdout.write(
      `rerated ${opts.from} .. ${opts.to}${opts.account ? ` (account ${opts.account})` : ''}: examined ${c.examined}, changed ${c.changed}, unchanged ${c.unchanged}, ` +
        `bundle-paid (re-priced, not re-charged) ${c.skippedBundles}, failed: ${failed}; money moved ${nanoToDecimal(c.deltaNano)}\n`,
    );
    return 0;
  } finally {
    await rating.close();
    await redis.stop();
    await pg.stop();
  }
}
