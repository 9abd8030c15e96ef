/**
 * The rating pool: piscina workers that each load the tariff once and price batches, with a
 * bounded queue (a full queue makes the reader wait: back-pressure, the main thread never rates).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { RateOutcome, RateTask } from './worker.js';

export interface RatingPool {
  rate(events: RateTask['events']): Promise<RateOutcome[]>;
  /** Workers load the tariff again from their next batch on (after a tariff change). */
  reload(): void;
  close(): Promise<void>;
}

export function createRatingPool(opts: {
  tariffDir: string;
  timezone?: string;
  threads?: number;
  maxQueue?: number;
}): RatingPool {
  const threads = opts.threads ?? Math.max(1, availableParallelism() - 1);
  const pool = new Piscina({
    filename: new URL('./worker.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    maxQueue: opts.maxQueue ?? threads * 4,
    // Workers run TypeScript through tsx like the main thread.
    execArgv: ['--import', 'tsx'],
  });
  pool.setMaxListeners(0); // every caller waiting for room listens for 'drain'
  let version = 1;
  return {
    async rate(events) {
      // Wait for room rather than fail on a full queue.
      while (pool.queueSize >= pool.options.maxQueue) await new Promise((r) => pool.once('drain', r));
      return pool.run({
        tariffDir: opts.tariffDir,
        timezone: opts.timezone,
        version,
        events,
      } satisfies RateTask) as Promise<RateOutcome[]>;
    },
    reload() {
      version++;
    },
    close: () => pool.destroy(),
  };
}
