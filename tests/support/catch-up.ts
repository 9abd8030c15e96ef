/**
 * The notification detector run until it has judged every ledger row stored so far (tests only).
 * It reads only rows committed before every running transaction began, and the PostgreSQL server is
 * shared with other test files whose transactions (a billing run's) may run for minutes: a pass may
 * find nothing yet, so it is tried again until caught up, up to `maxWaitMs`, then fails saying so.
 */
import type { Pool } from 'pg';
import { detectOnce, type DetectorDeps } from '../../src/notifications/detect.js';

/** How long catchUp waits for other files' transactions by default. */
export const CATCH_UP_MS = 240_000;

/**
 * Options of a test (or describe) that catches up: a timeout past the wait, so that catchUp's
 * message is the one seen, with room for a test that catches up several times (once the long
 * transaction has ended, the others return at once).
 */
export const CATCHING_UP = { timeout: 2 * CATCH_UP_MS + 120_000 };

export async function catchUp(deps: DetectorDeps, maxWaitMs = CATCH_UP_MS): Promise<void> {
  const { pool, schema } = deps;
  const until = Date.now() + maxWaitMs;
  while (Date.now() < until) {
    if ((await detectOnce(deps)) > 0) continue;
    const behind = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}.balance_ledger l, ${schema}.notification_watermark w
        WHERE (l.txid, l.position) > (w.txid, w.position)`,
    );
    if (behind.rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const running = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL`,
  );
  throw new Error(
    `the detector did not catch up with the ledger of ${schema} in ${maxWaitMs} ms (server backends holding a snapshot or a transaction: ${running.rows[0]!.n})`,
  );
}

/**
 * Waits until the detector can see every ledger row stored so far (each written by a transaction
 * older than every running one), so that one pass reads them all; the same bound as catchUp.
 */
export async function ledgerVisible(pool: Pool, schema: string, maxWaitMs = CATCH_UP_MS): Promise<void> {
  const until = Date.now() + maxWaitMs;
  while (Date.now() < until) {
    const r = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}.balance_ledger WHERE txid >= pg_snapshot_xmin(pg_current_snapshot())`,
    );
    if (r.rows[0]!.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the ledger of ${schema} was not visible to the detector in ${maxWaitMs} ms`);
}
