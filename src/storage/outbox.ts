/**
 * The outbox drain: what the balance scripts wrote to the accounts' outbox streams in Redis —
 * ledger entries, rated records, the charging trail — is stored in PostgreSQL, in stream order,
 * exactly once in effect. An entry is one operation or charging step: fields op, account, at, and
 * as it has them: moves (the ledger, see balances/ledger.ts), rated (a JSON array of rated records),
 * trail and answer (the request's trail entry without its answer, and the answer). Rows are keyed
 * by their stream entry or their own id, so a drain that dies between storing and trimming stores
 * nothing twice; entries leave Redis only once stored.
 *
 * Which outboxes to read: every script that writes an outbox marks it dirty (the step inside itself
 * on a standalone Redis, other scripts right after them: balances/store.ts), and a drain takes the
 * marks; an outbox still holding entries after its read is marked again. A full pass over every
 * outbox (`full: true`, at start and now and then) catches a mark lost to a crash.
 */
import type { RedisClient } from '../infra/redis.js';
import type { Pool } from 'pg';
import { dirtyOutboxesKey, outboxesKey } from '../balances/keys.js';
import { LedgerRows } from '../balances/ledger.js';
import { RecordRows } from './records.js';
import { lockCutShared } from '../billing/run/cutoff.js';

export interface DrainOptions {
  redis: RedisClient;
  pool: Pool;
  schema: string;
  keyPrefix: string;
  /** Entries read per stream per round. */
  batchSize?: number;
  /** Read every outbox, not only the dirty ones. */
  full?: boolean;
}

/**
 * How often the engine drains the dirty outboxes. Often, so each drain is small: when drains ran on
 * the event loop, a second's worth of entries at once (1,000-2,000 steps) held it for tens of
 * milliseconds, which every request in flight waited out (p999 51 -> 23-31 ms, the loop's own p99
 * delay 10.4 -> 6.9 ms at 4 connections, bench/RESULTS.md 2026-12-07). The engine now drains in a
 * thread of its own (drain-thread.ts); small drains still keep each transaction short. An idle
 * drain is one SPOP.
 */
export const DRAIN_EVERY_MS = 100;

/** Every this many drains reads every outbox (about every 5 minutes), for a dirty mark lost to a crash. */
export const FULL_DRAIN_EVERY = 3000;

/** The tenant an outbox belongs to, from its hash tag ({a:T:..}, {g:T:..}, {c:T}, {o:T}). */
function tenantOf(stream: string): string {
  const m = /\{[a-z]+:([^:}]+)[:}]/.exec(stream);
  return m ? m[1]! : '';
}

/** How many times a transaction PostgreSQL chose as a deadlock's victim is tried again. */
const DEADLOCK_RETRIES = 3;

function isDeadlock(err: Error | undefined): boolean {
  return (err as { code?: string } | undefined)?.code === '40P01';
}

/**
 * The rows in one transaction. Rows go in in key order, so two drains do not deadlock on them; if
 * PostgreSQL still picks this one as a deadlock's victim (40P01), it is run again, quietly: the
 * rows are keyed, so nothing is stored twice.
 */
async function storeRows(o: DrainOptions, ledger: LedgerRows, records: RecordRows): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = await o.pool.connect();
    let failed: Error | undefined;
    try {
      await client.query('BEGIN');
      // Rated records are billable: first the tenants' shared cut-off locks (billing/run/cutoff.ts).
      await lockCutShared(client, o.schema, records.tenants());
      await ledger.insert(client, o.schema);
      await records.insert(client, o.schema);
      await client.query('COMMIT');
      return;
    } catch (err) {
      failed = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      if (!isDeadlock(failed) || attempt >= DEADLOCK_RETRIES) throw err;
    } finally {
      // A connection that failed (PostgreSQL went away) is closed, not handed to the next drain.
      client.release(isDeadlock(failed) ? undefined : failed);
    }
  }
}

/**
 * Stores one batch of each of these streams in one transaction (the entries of many accounts per
 * round trip), then removes them from Redis; returns how many entries were stored.
 */
async function drainStreams(o: DrainOptions, streams: string[], batch: number): Promise<number> {
  const read = await Promise.all(streams.map((s) => o.redis.xrange(s, '-', '+', 'COUNT', batch)));
  const ledger = new LedgerRows();
  const records = new RecordRows();
  let total = 0;
  streams.forEach((stream, i) => {
    const tenant = tenantOf(stream);
    for (const [id, fields] of read[i]!) {
      const f = new Map<string, string>();
      for (let k = 0; k < fields.length; k += 2) f.set(fields[k]!, fields[k + 1]!);
      if (f.has('moves')) ledger.add(stream, id, tenant, f);
      if (f.has('rated')) records.addRated(f.get('rated')!, f.get('moves'));
      if (f.has('trail')) records.addTrail(f.get('trail')!, f.get('answer')!);
      total++;
    }
  });
  if (total === 0) return 0;
  await storeRows(o, ledger, records);
  // Stored: now the entries may leave Redis (a crash before this only re-stores nothing).
  await Promise.all(
    streams.map((s, i) => (read[i]!.length ? o.redis.xdel(s, ...read[i]!.map(([id]) => id)) : null)),
  );
  return total;
}

/**
 * Drains the dirty outboxes (or all of them); returns how many entries were stored. Bounded: at
 * most `rounds` rounds of up to 500 outboxes, one batch each; what is left stays dirty.
 */
export async function drainOutboxes(o: DrainOptions, rounds = 10): Promise<number> {
  const batch = o.batchSize ?? 1000;
  const ks = { prefix: o.keyPrefix };
  const dirty = dirtyOutboxesKey(ks);
  if (o.full) {
    // Everything is marked dirty, then drained as usual.
    const all = await o.redis.smembers(outboxesKey(ks));
    for (let i = 0; i < all.length; i += 1000) await o.redis.sadd(dirty, ...all.slice(i, i + 1000));
  }
  let total = 0;
  for (let round = 0; round < rounds; round++) {
    const streams = await o.redis.spop(dirty, 500);
    if (streams.length === 0) break;
    try {
      total += await drainStreams(o, streams, batch);
    } catch (err) {
      await o.redis.sadd(dirty, ...streams); // not stored: they stay dirty for the next drain
      throw err;
    }
    // Written meanwhile, or more than a batch: dirty again.
    const left = await Promise.all(streams.map((s) => o.redis.xlen(s)));
    const again = streams.filter((_, i) => left[i]! > 0);
    if (again.length) await o.redis.sadd(dirty, ...again);
  }
  return total;
}
