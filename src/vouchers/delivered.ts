/**
 * Marks redeemed money vouchers delivered (their credit landed), in batches and off the redemption's
 * answer: while one UPDATE is in flight the next marks gather, so 100 concurrent redemptions cost a
 * few statements, not 100 commits. A mark lost to a crash or an outage only leaves the row
 * value_pending: the repair credits it again (a replay under the same operation id) and marks it.
 */
import type { Pool } from 'pg';
import type { VoucherDeps } from './deps.js';
import { markDelivered } from './voucher-rows.js';

interface Marks {
  queue: { tenant: string; serial: string }[];
  running: Promise<void> | null;
}

type Deps = Pick<VoucherDeps, 'pool' | 'schema' | 'log'>;

const marks = new WeakMap<Pool, Map<string, Marks>>();

function marksOf(deps: Deps): Marks {
  let bySchema = marks.get(deps.pool);
  if (!bySchema) marks.set(deps.pool, (bySchema = new Map()));
  let m = bySchema.get(deps.schema);
  if (!m) bySchema.set(deps.schema, (m = { queue: [], running: null }));
  return m;
}

async function drain(deps: Deps, m: Marks): Promise<void> {
  // Let the redemptions answering in this turn of the event loop join the first statement.
  await new Promise<void>((ok) => setImmediate(ok));
  while (m.queue.length > 0) {
    const batch = m.queue.splice(0, 1000);
    try {
      await markDelivered(
        deps.pool,
        deps.schema,
        batch.map((v) => v.tenant),
        batch.map((v) => v.serial),
      );
    } catch (err) {
      deps.log?.error(
        { err, vouchers: batch.length },
        'voucher delivered marks failed; the repair makes them',
      );
    }
  }
  m.running = null;
}

/** Queues the mark; it is written within a statement or two. */
export function markDeliveredSoon(deps: Deps, v: { tenant: string; serial: string }): void {
  const m = marksOf(deps);
  m.queue.push({ tenant: v.tenant, serial: v.serial });
  m.running ??= drain(deps, m);
}

/** Resolves once every mark queued so far is written (or its failure logged). */
export async function deliveredSettled(deps: Deps): Promise<void> {
  const m = marksOf(deps);
  while (m.running) await m.running;
}
