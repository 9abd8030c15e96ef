/**
 * CDR file jobs: a file handed over (uploaded over HTTP) is imported in the background; its state and
 * counters live in PostgreSQL (`cdr_jobs`) so it can be polled. When Redis or PostgreSQL stops
 * answering, the job waits (status `waiting`, with the error) and tries again by itself, going on
 * from the last chunk it stored; the engine also resumes the jobs a restart interrupted. Any other
 * failure ends it (`failed`); a failed job can be resumed by a call. The import is exactly-once, so
 * running it again is always safe. The file is the job's: it is deleted once the job is done.
 */
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import { isUnavailable } from '../infra/unavailable.js';
import { NATIVE_MAPPING } from './format.js';
import { importCdrFile, withFileTenant, type ImportCounters } from './pipeline.js';
import { checkCdrFile } from './read.js';
import type { RatingPool } from './pool.js';

export interface CdrJob {
  id: string;
  tenant: string;
  file: string;
  status: 'running' | 'waiting' | 'done' | 'failed';
  counters: ImportCounters | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export async function ensureJobsSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.cdr_jobs (
    id text PRIMARY KEY, tenant text NOT NULL, file text NOT NULL, status text NOT NULL, counters jsonb,
    error text, started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)`);
}

export interface JobDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  /** Made on first use: a process that never imports never starts workers. */
  rating: () => RatingPool;
  onCounters?: (delta: { read: number; stored: number; rejected: number; duplicates: number }) => void;
  /** Chunk size of the imports (default: the reader's). */
  chunkBytes?: number;
  /** Lines longer than this are rejects (default: the reader's, 64 KiB). */
  maxLineBytes?: number;
  /** How long a job waits before trying again after an outage: doubles up to the maximum. */
  retryMs?: { first: number; max: number };
}

export function createCdrJobs(deps: JobDeps) {
  const running = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const retry = deps.retryMs ?? { first: 1000, max: 30_000 };
  let closed = false;

  async function save(
    id: string,
    fields: {
      status: CdrJob['status'];
      counters?: ImportCounters;
      error?: string | null;
      finished?: boolean;
    },
  ) {
    await deps.pool.query(
      `UPDATE ${deps.schema}.cdr_jobs SET status = $2, counters = COALESCE($3, counters), error = $4,
              finished_at = CASE WHEN $5 THEN now() ELSE finished_at END WHERE id = $1`,
      [
        id,
        fields.status,
        fields.counters ? JSON.stringify(fields.counters) : null,
        fields.error ?? null,
        fields.finished ?? false,
      ],
    );
  }

  /** Counts what an import did since it last said so (for metrics). */
  function reporter() {
    let last = { read: 0, stored: 0, rejected: 0, duplicates: 0 };
    return (c: ImportCounters) => {
      const now = {
        read: c.read,
        stored: c.stored,
        rejected: Object.values(c.rejected).reduce((a, b) => a + b, 0),
        duplicates: c.duplicates,
      };
      deps.onCounters?.({
        read: now.read - last.read,
        stored: now.stored - last.stored,
        rejected: now.rejected - last.rejected,
        duplicates: now.duplicates - last.duplicates,
      });
      last = now;
    };
  }

  function run(id: string, tenant: string, file: string, waitMs = retry.first): void {
    const report = reporter();
    // Progress is saved one write at a time (skipped while one is on its way), and the final status
    // after the last of them, so a late progress write never turns a finished job back to running.
    let progress: Promise<unknown> | null = null;
    const settled = () => progress ?? Promise.resolve();
    const work = importCdrFile(
      { balances: deps.balances, pool: deps.pool, schema: deps.schema, rating: deps.rating() },
      file,
      {
        fileId: id,
        // A file handed over belongs to its uploader's tenant: it charges no other.
        tenant,
        enforceTenant: true,
        ...(deps.chunkBytes ? { chunkBytes: deps.chunkBytes } : {}),
        ...(deps.maxLineBytes ? { maxLineBytes: deps.maxLineBytes } : {}),
        onProgress: (c) => {
          report(c);
          progress ??= save(id, { status: 'running', counters: { ...c } })
            .catch(() => undefined)
            .finally(() => (progress = null));
        },
      },
    )
      .then(async (c) => {
        await settled();
        await save(id, { status: 'done', counters: c, finished: true });
        // A finished job is never read again (its rejects keep their lines): the upload would only fill the disk.
        await unlink(file).catch(() => undefined);
      })
      .catch(async (err: unknown) => {
        await settled();
        const message = err instanceof Error ? err.message : String(err);
        if (!isUnavailable(err) || closed) {
          await save(id, { status: 'failed', error: message, finished: true }).catch(() => undefined);
          return;
        }
        // Redis or PostgreSQL went away: wait, then go on from the last chunk stored.
        await save(id, {
          status: 'waiting',
          error: `Redis or PostgreSQL is not answering (${message}); trying again in ${Math.round(waitMs / 1000)} s`,
        }).catch(() => undefined);
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!closed) run(id, tenant, file, Math.min(waitMs * 2, retry.max));
        }, waitMs);
        timers.add(timer);
      })
      .finally(() => running.delete(work));
    running.add(work);
  }

  return {
    /**
     * Registers a job for a file already on disk and starts it. A file that is empty, has no valid
     * header, cannot be read or holds more than `maxBytes` (decompressed; default: no limit) is
     * refused (CdrFileError) before anything is imported.
     */
    async start(tenant: string, file: string, opts: { maxBytes?: number } = {}): Promise<CdrJob> {
      await checkCdrFile(file, {
        maxBytes: opts.maxBytes ?? Infinity,
        mapping: withFileTenant(NATIVE_MAPPING, tenant),
        ...(deps.maxLineBytes ? { maxLineBytes: deps.maxLineBytes } : {}),
      });
      const id = randomUUID();
      await deps.pool.query(
        `INSERT INTO ${deps.schema}.cdr_jobs (id, tenant, file, status) VALUES ($1, $2, $3, 'running')`,
        [id, tenant, file],
      );
      run(id, tenant, file);
      return (await this.get(tenant, id))!;
    },

    async get(tenant: string, id: string): Promise<CdrJob | null> {
      const r = await deps.pool.query(
        `SELECT id, tenant, file, status, counters, error, started_at AS "startedAt", finished_at AS "finishedAt" FROM ${deps.schema}.cdr_jobs WHERE id = $1 AND tenant = $2`,
        [id, tenant],
      );
      const row = r.rows[0] as (CdrJob & { startedAt: Date; finishedAt: Date | null }) | undefined;
      return row
        ? {
            ...row,
            startedAt: row.startedAt.toISOString(),
            finishedAt: row.finishedAt?.toISOString() ?? null,
          }
        : null;
    },

    /** Runs a failed job again (already stored CDRs are skipped, charges replay). */
    async resume(tenant: string, id: string): Promise<CdrJob | null> {
      const job = await this.get(tenant, id);
      if (!job || job.status !== 'failed') return job;
      await save(id, { status: 'running', error: null });
      run(id, tenant, job.file);
      return this.get(tenant, id);
    },

    /** Starts again the jobs a stop of the engine left running or waiting; returns how many. */
    async resumeUnfinished(): Promise<number> {
      const r = await deps.pool.query<{ id: string; tenant: string; file: string }>(
        `SELECT id, tenant, file FROM ${deps.schema}.cdr_jobs WHERE status IN ('running', 'waiting') ORDER BY started_at`,
      );
      for (const j of r.rows) run(j.id, j.tenant, j.file);
      return r.rows.length;
    },

    /** Waits until no job is running (a waiting job may start again later). */
    async idle(): Promise<void> {
      while (running.size) await Promise.all([...running]);
    },

    /** For a graceful shutdown: lets the jobs in flight finish; waiting ones stay waiting (resumed at start). */
    async close(): Promise<void> {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await this.idle();
    },
  };
}

export type CdrJobs = ReturnType<typeof createCdrJobs>;
