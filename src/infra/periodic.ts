/**
 * Background jobs on a timer (the outbox drain, the sweep, CDR batch recovery). Never two runs of a
 * job at once. While Redis or PostgreSQL is away the job backs off (its period doubled per failed
 * run, up to `maxBackoffMs`) and the outage is logged once, when it starts, and once when it ends —
 * not at every tick. Any other failure is a bug: logged loudly every time, and the job goes on.
 */
import { isUnavailable } from './unavailable.js';

export interface PeriodicLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PeriodicJob {
  name: string;
  everyMs: number;
  /** The longest wait between two runs while a dependency is away (default 5 s). */
  maxBackoffMs?: number;
  job: () => Promise<unknown>;
  log: PeriodicLog;
}

/** Starts the job (first run after `everyMs`); the returned function stops it and awaits its run. */
export function runEvery(p: PeriodicJob): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = false;
  let failedRuns = 0; // in a row, while a dependency is away
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().finally(() => (running = null));
    }, ms);
  };

  async function runOnce(): Promise<void> {
    try {
      await p.job();
      if (failedRuns > 0) p.log.info({ failedRuns }, `${p.name}: Redis and PostgreSQL answer again`);
      failedRuns = 0;
      schedule(p.everyMs);
    } catch (err) {
      if (!isUnavailable(err)) {
        p.log.error({ err }, `${p.name} failed`);
        schedule(p.everyMs);
        return;
      }
      if (failedRuns === 0)
        p.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          `${p.name}: Redis or PostgreSQL is not answering; retrying with backoff (logged once per outage)`,
        );
      failedRuns++;
      schedule(backoffMs(p.everyMs, p.maxBackoffMs ?? 5000, failedRuns));
    }
  }

  schedule(p.everyMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/** The wait after `failedRuns` failed runs: the period doubled each time, up to the cap. */
export function backoffMs(everyMs: number, maxBackoffMs: number, failedRuns: number): number {
  return Math.max(everyMs, Math.min(everyMs * 2 ** Math.min(failedRuns, 30), maxBackoffMs));
}
