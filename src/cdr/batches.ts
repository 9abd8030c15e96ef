/**
 * Charging a batch of CDRs exactly once across Redis (the money) and PostgreSQL (the rows), in two
 * phases. Before charging, the batch is registered (`cdr_batches`, pending, with its accounts) and
 * its owner takes the batch's advisory lock in the transaction that will store its rows; the
 * charges are journaled in Redis under the batch; the rows, the claims and `stored` commit together.
 *
 * Afterwards the journal is dropped and the batch row deleted. If the owner dies or fails before
 * committing, its lock goes with its connection: recovery finds the batch pending and unlocked and
 * gives its charges back; the CDRs, never stored, are charged again when the file is fed again.
 * A batch found stored only has its journal dropped. Recovery runs before every import.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { forgetBatch, revertBatch } from '../balances/batch.js';
import type { BalanceStore } from '../balances/store.js';
import { checkSchema } from './store.js';

export interface BatchAccount {
  tenant: string;
  accountId: string;
}

export const newBatchId = () => randomUUID();

/** Marks the batch as this transaction's (recovery leaves it alone while the transaction lives). */
export async function ownBatch(client: PoolClient, batchId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [batchId]);
}

/** Registers a batch about to be charged (committed at once, on its own connection). */
export async function registerBatch(
  pool: Pool,
  schema: string,
  batchId: string,
  fileId: string,
  accounts: BatchAccount[],
): Promise<void> {
  await pool.query(
    `INSERT INTO ${checkSchema(schema)}.cdr_batches (batch_id, file_id, status, tenants, accounts) VALUES ($1, $2, 'pending', $3, $4)`,
    [batchId, fileId, accounts.map((a) => a.tenant), accounts.map((a) => a.accountId)],
  );
}

/** In the storing transaction: the batch's charges now stand. */
export async function markStored(client: PoolClient, schema: string, batchId: string): Promise<void> {
  await client.query(`UPDATE ${schema}.cdr_batches SET status = 'stored' WHERE batch_id = $1`, [batchId]);
}

/** After the commit: the journal is dropped and the batch forgotten. */
export async function finishBatch(
  pool: Pool,
  schema: string,
  store: BalanceStore,
  batchId: string,
  accounts: BatchAccount[],
): Promise<void> {
  await forgetBatch(store, batchId, accounts);
  await pool.query(`DELETE FROM ${checkSchema(schema)}.cdr_batches WHERE batch_id = $1`, [batchId]);
}

/**
 * Settles one batch whose owner is gone or gave up, under its lock: pending, it is given back;
 * stored (a commit that failed to answer may still have committed), its journal is dropped. A
 * batch still locked (its owner's transaction lives on) is left for a later recovery.
 */
async function settleBatch(
  pool: Pool,
  schema: string,
  store: BalanceStore,
  batchId: string,
  accounts: BatchAccount[],
  nowMs: number,
): Promise<'reverted' | 'finished' | 'busy' | 'gone'> {
  const s = checkSchema(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const free = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [
      batchId,
    ]);
    if (!free.rows[0]!.ok) {
      await client.query('ROLLBACK');
      return 'busy';
    }
    const now = await client.query<{ status: string }>(
      `SELECT status FROM ${s}.cdr_batches WHERE batch_id = $1`,
      [batchId],
    );
    const status = now.rows[0]?.status;
    let outcome: 'reverted' | 'finished' | 'gone' = 'gone';
    if (status === 'pending') {
      await revertBatch(store, batchId, accounts, nowMs);
      outcome = 'reverted';
    } else if (status === 'stored') {
      await forgetBatch(store, batchId, accounts);
      outcome = 'finished';
    }
    await client.query(`DELETE FROM ${s}.cdr_batches WHERE batch_id = $1`, [batchId]);
    await client.query('COMMIT');
    return outcome;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Settles a batch its owner could not store, once its transaction has ended (rolled back, or a commit that failed). */
export async function abandonBatch(
  pool: Pool,
  schema: string,
  store: BalanceStore,
  batchId: string,
  accounts: BatchAccount[],
  nowMs: number,
): Promise<void> {
  await settleBatch(pool, schema, store, batchId, accounts, nowMs);
}

/**
 * Settles batches left by owners that died or failed: a pending one is given back, a stored one's
 * journal dropped. Batches whose owner still works are left alone; a killed owner's connection may
 * take PostgreSQL a moment to notice, so a locked batch is tried again for up to `waitMs`.
 * Returns how many were settled.
 */
export async function recoverBatches(
  pool: Pool,
  schema: string,
  store: BalanceStore,
  nowMs: number,
  waitMs = 0,
): Promise<{ reverted: number; finished: number }> {
  const until = Date.now() + waitMs;
  const out = { reverted: 0, finished: 0 };
  for (;;) {
    const r = await recoverOnce(pool, schema, store, nowMs);
    out.reverted += r.reverted;
    out.finished += r.finished;
    if (r.busy === 0 || Date.now() >= until) return out;
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

async function recoverOnce(
  pool: Pool,
  schema: string,
  store: BalanceStore,
  nowMs: number,
): Promise<{ reverted: number; finished: number; busy: number }> {
  const s = checkSchema(schema);
  const out = { reverted: 0, finished: 0, busy: 0 };
  const { rows } = await pool.query<{
    batch_id: string;
    status: string;
    tenants: string[];
    accounts: string[];
  }>(`SELECT batch_id, status, tenants, accounts FROM ${s}.cdr_batches ORDER BY created_at`);
  for (const b of rows) {
    const accounts = b.accounts.map((accountId, i) => ({ tenant: b.tenants[i]!, accountId }));
    const r = await settleBatch(pool, schema, store, b.batch_id, accounts, nowMs);
    if (r === 'reverted') out.reverted++;
    else if (r === 'finished') out.finished++;
    else if (r === 'busy') out.busy++;
  }
  return out;
}
