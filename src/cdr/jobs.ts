/**
 * CDR file jobs: a file handed over (uploaded over HTTP) is imported in the background; its state and
 * counters live in PostgreSQL (`cdr_jobs`) so it can be polled, and a failed job (Redis or
 * PostgreSQL went away) can be resumed: the import is exactly-once, so running it again is safe.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import { importCdrFile, type ImportCounters } from './pipeline.js';
import type { RatingPool } from './pool.js';

export interface CdrJob {
  id: string;
  tenant: string;
  file: string;
  status: 'running' | 'done' | 'failed';
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
}

export function createCdrJobs(deps: JobDeps) {
  const running = new Set<Promise<void>>();

  async function save(
    id: string,
    fields: { status: string; counters?: ImportCounters; error?: string | null; finished?: boolean },
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

  function run(id: string, file: string): void {
    let last = { read: 0, stored: 0, rejected: 0, duplicates: 0 };
    const report = (c: ImportCounters) => {
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
    const work = importCdrFile(
      { balances: deps.balances, pool: deps.pool, schema: deps.schema, rating: deps.rating() },
      file,
      {
        fileId: id,
        onProgress: (c) => {
          report(c);
          void save(id, { status: 'running', counters: c }).catch(() => undefined);
        },
      },
    )
      .then((c) => save(id, { status: 'done', counters: c, finished: true }))
      .catch((err: unknown) =>
        save(id, {
          status: 'failed',
          error: err instanceof Error ? err.message : String(err),
          finished: true,
        }).catch(() => undefined),
      )
      .finally(() => running.delete(work));
    running.add(work);
  }

  return {
    /** Registers a job for a file already on disk and starts it. */
    async start(tenant: string, file: string): Promise<CdrJob> {
      const id = randomUUID();
      await deps.pool.query(
        `INSERT INTO ${deps.schema}.cdr_jobs (id, tenant, file, status) VALUES ($1, $2, $3, 'running')`,
        [id, tenant, file],
      );
      run(id, file);
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
      run(id, job.file);
      return this.get(tenant, id);
    },

    /** Waits for the jobs in flight (graceful shutdown, tests). */
    async idle(): Promise<void> {
      await Promise.all([...running]);
    },
  };
}

export type CdrJobs = ReturnType<typeof createCdrJobs>;
