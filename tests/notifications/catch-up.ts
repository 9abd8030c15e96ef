/**
 * Runs the detector until it has judged every ledger row stored so far. The detector reads only rows
 * committed before every running transaction began; other test files share the PostgreSQL server,
 * so a pass may find nothing yet while their transactions run: it is tried again until caught up.
 */
import type { Pool } from 'pg';
import { detectOnce, type DetectorDeps } from '../../src/notifications/detect.js';

export async function catchUp(pool: Pool, schema: string, deps: DetectorDeps): Promise<void> {
  for (let pass = 0; pass < 500; pass++) {
    if ((await detectOnce(deps)) > 0) continue;
    const behind = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}.balance_ledger l, ${schema}.notification_watermark w
        WHERE (l.txid, l.position) > (w.txid, w.position)`,
    );
    if (behind.rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the detector did not catch up with the ledger');
}
