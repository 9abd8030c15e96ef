/**
 * The cut-off barrier (billing.md E.3 step 3): the instant C after which a tenant's new billable rows
 * land on the next bill, with a snapshot that sees every row stored at or before C and none after.
 *
 * Writers of billable rows (the outbox drain's rated_records, the CDR chunk transaction, `cdr rerate`,
 * the applied `charges`) take the SHARED form of a per-tenant advisory lock as the first statement of
 * their transaction (`lockCutShared`), and stamp their rows with `statement_timestamp()` of a later
 * statement. The barrier takes the EXCLUSIVE form, so it waits for the writers in flight; reads
 * C = clock_timestamp(); opens a REPEATABLE READ snapshot on a second connection; then lets the writers
 * go. A writer that committed before the barrier stamped its rows before C and is in the snapshot; a
 * writer that got its lock after stamps them after C and is not (it is on the next bill) — even if its
 * transaction BEGAN before C, which is why `now()` (transaction start) would lose rows.
 *
 * Imports nothing from the writers (they import this): no cycle.
 */
import type { Pool, PoolClient } from 'pg';

interface Queryable {
  query(sql: string, values?: unknown[]): Promise<unknown>;
}

/**
 * The lock's key text; hashtext() of it is the advisory lock key (a collision only makes tenants wait
 * together). Advisory locks are per database: the schema is part of the key, so engines (or test files)
 * on other schemas of one database do not wait for each other's cut-offs (as the run lock, run.ts).
 */
export function cutLockKey(schema: string, tenant: string): string {
  return `billing-cut:${schema}:${tenant}`;
}

/**
 * Test seam: awaited after a writer's BEGIN and before its shared lock, so a test can hold a writer
 * there while a cut-off happens (E.6 #17). Never set in production.
 */
export const cutTestHooks: { beforeSharedLock?: (tenants: string[]) => Promise<void> } = {};

/**
 * The writers' side: shared cut-off locks of these tenants, in the caller's transaction (held until it
 * ends). Must be the first statement of the transaction, in a statement of its own (statement_timestamp
 * is per statement). Tenants are locked in sorted order: two writers never wait for each other in a cycle.
 */
export async function lockCutShared(db: Queryable, schema: string, tenants: Iterable<string>): Promise<void> {
  const list = [...new Set(tenants)].sort();
  if (list.length === 0) return;
  if (cutTestHooks.beforeSharedLock) await cutTestHooks.beforeSharedLock(list);
  // The same key text as cutLockKey, built in SQL for the whole list.
  await db.query(
    `SELECT pg_advisory_xact_lock_shared(hashtext('billing-cut:' || $2::text || ':' || t))
       FROM (SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t) x`,
    [list, schema],
  );
}

export interface CutOff {
  /** C as PostgreSQL text (microseconds kept: a JS Date would drop them). */
  cutoffAt: string;
  /** A REPEATABLE READ transaction whose snapshot holds exactly the rows stored at or before C. The caller ends it. */
  snapshot: PoolClient;
}

/** Test seam: awaited while the barrier holds its exclusive lock (before C is read). */
export const barrierTestHooks: { whileExclusive?: () => Promise<void> } = {};

/**
 * The barrier for one tenant of one schema. The exclusive lock is held for a few milliseconds plus the time the
 * writers in flight need to commit; new writers wait that long. The snapshot connection stays open
 * (idle in transaction) while the caller reads from it.
 */
export async function cutOff(pool: Pool, schema: string, tenant: string): Promise<CutOff> {
  // Both connections first: writers waiting on the lock hold pool connections of their own, so a
  // connection asked for while holding it might never come.
  const lock = await pool.connect();
  let snapshot: PoolClient | undefined;
  let failed: Error | undefined;
  try {
    snapshot = await pool.connect();
    await lock.query('BEGIN');
    await lock.query('SELECT pg_advisory_xact_lock(hashtext($1))', [cutLockKey(schema, tenant)]);
    if (barrierTestHooks.whileExclusive) await barrierTestHooks.whileExclusive();
    const c = await lock.query<{ c: string }>(`SELECT clock_timestamp()::text AS c`);
    await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await snapshot.query('SELECT 1'); // the snapshot is taken by the first statement, under the lock
    await lock.query('COMMIT');
    return { cutoffAt: c.rows[0]!.c, snapshot };
  } catch (err) {
    failed = err as Error;
    await lock.query('ROLLBACK').catch(() => undefined);
    if (snapshot) {
      await snapshot.query('ROLLBACK').catch(() => undefined);
      snapshot.release(failed);
    }
    throw err;
  } finally {
    lock.release(failed);
  }
}

/** Ends a cut-off's snapshot (commit: it only read, or wrote drafts the caller wants kept). */
export async function endSnapshot(cut: CutOff, commit = true): Promise<void> {
  let failed: Error | undefined;
  try {
    await cut.snapshot.query(commit ? 'COMMIT' : 'ROLLBACK');
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    cut.snapshot.release(failed);
  }
}
