/**
 * The moment of a plan write that moves money (an assignment, an immediate change, a cancellation
 * with refund), kept from when it is first asked until it lands. Those writes prorate by the clock
 * and move money in Redis before their PostgreSQL transaction commits; if the commit fails, the
 * caller's retry must compute the same amounts and replay the same Redis operation, not charge a
 * second time at a later moment. So the moment is committed first (its own short transaction) and
 * every retry under the same reference reads it back; the row goes when the write lands, or when it
 * is refused before any money moved (a refusal leaves nothing behind).
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction, type PlansDeps } from './db.js';
import { PlansError } from './errors.js';

export interface Intent {
  /** What the write is about: an assignment id, or `assign:{accountId}` for a new assignment. */
  subject: string;
  reference: string;
  hash: string;
}

/**
 * The write's moment: the one stored under (subject, reference), else `nowMs`, stored. A stored
 * one under another body is a `CONFLICT`; another reference still pending on an assignment is
 * `CHANGE_PENDING` (its money may have moved: it must be retried, not overtaken). New assignments
 * of one account do not wait for each other.
 */
export async function holdMoment(
  c: PoolClient,
  schema: string,
  tenant: string,
  i: Intent,
  nowMs: number,
): Promise<number> {
  const r = await c.query<{ reference: string; request_hash: string; at: Date }>(
    `SELECT reference, request_hash, at FROM ${schema}.plan_intents WHERE tenant = $1 AND subject = $2`,
    [tenant, i.subject],
  );
  const mine = r.rows.find((x) => x.reference === i.reference);
  if (mine) {
    if (mine.request_hash !== i.hash)
      throw new PlansError('CONFLICT', `reference ${i.reference} was used for another request`);
    return mine.at.getTime();
  }
  const other = r.rows[0];
  if (other && !i.subject.startsWith('assign:'))
    throw new PlansError('CHANGE_PENDING', `the write ${other.reference} did not finish: retry it first`, {
      reference: other.reference,
    });
  // The same request at the same instant (a client's double send): the first one's moment.
  const put = await c.query(
    `INSERT INTO ${schema}.plan_intents (tenant, subject, reference, request_hash, at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`,
    [tenant, i.subject, i.reference, i.hash, new Date(nowMs)],
  );
  if (put.rowCount === 1) return nowMs;
  return holdMoment(c, schema, tenant, i, nowMs);
}

/** The write landed (in its transaction), or was refused before any money moved (on its own). */
async function dropMoment(c: PoolClient | Pool, schema: string, tenant: string, i: Intent) {
  await c.query(`DELETE FROM ${schema}.plan_intents WHERE tenant = $1 AND subject = $2 AND reference = $3`, [
    tenant,
    i.subject,
    i.reference,
  ]);
}

/**
 * Runs a write that moves money at its moment: first the moment is held (committed on its own),
 * then `write` runs in one transaction with it and a `moved()` to call once Redis took the money;
 * the moment goes with that transaction's commit. A refusal (PlansError) before `moved()` drops it,
 * so a refused request leaves nothing behind; any other failure keeps it for the retry.
 */
export async function withMoment<T>(
  deps: PlansDeps,
  tenant: string,
  i: Intent,
  write: (c: PoolClient, atMs: number, moved: () => void) => Promise<T>,
): Promise<T> {
  const { pool, schema } = deps;
  const atMs = await inTransaction(pool, (c) => holdMoment(c, schema, tenant, i, deps.now()));
  let moved = false;
  try {
    return await inTransaction(pool, async (c) => {
      // One at a time per request: a double send's second waits for the first, then replays it.
      await c.query(
        `SELECT 1 FROM ${schema}.plan_intents WHERE tenant = $1 AND subject = $2 AND reference = $3 FOR UPDATE`,
        [tenant, i.subject, i.reference],
      );
      const out = await write(c, atMs, () => (moved = true));
      await dropMoment(c, schema, tenant, i);
      return out;
    });
  } catch (err) {
    if (err instanceof PlansError && !moved) await dropMoment(pool, schema, tenant, i);
    throw err;
  }
}
