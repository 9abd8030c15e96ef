/**
 * The pull API's query (GET /v1/account-events): a tenant's events in the order they became visible,
 * with a cursor that never skips one. Ordered by (txid, position) and limited to transactions older
 * than every transaction still running (`pg_snapshot_xmin`): an event whose transaction commits later
 * always sorts after every cursor already handed out. The price: an event shows once the oldest
 * transaction running at its commit has ended (usually milliseconds; a long transaction delays it).
 */
import type { Pool } from 'pg';
import { presentEvent, type EventRow, type EventView } from './present.js';

export interface PullQuery {
  after?: string;
  type?: string;
  accountId?: string;
  limit: number;
}

export const CURSOR_PATTERN = '^[0-9]{1,20}\\.[0-9]{1,20}$';

export async function pullEvents(
  pool: Pool,
  schema: string,
  tenant: string,
  q: PullQuery,
): Promise<{ events: EventView[]; next: string; hasMore: boolean }> {
  const [txid, position] = (q.after ?? '0.0').split('.') as [string, string];
  const r = await pool.query<EventRow & { txid: string; position: string }>(
    `SELECT id, type, account_id, sequence, occurred_at, payload, txid::text AS txid, position::text AS position
       FROM ${schema}.events
      WHERE tenant = $1 AND txid < pg_snapshot_xmin(pg_current_snapshot())
        AND (txid, position) > ($2::xid8, $3::bigint)
        AND ($4::text IS NULL OR type = $4) AND ($5::text IS NULL OR account_id = $5)
      ORDER BY txid, position LIMIT $6`,
    [tenant, txid, position, q.type ?? null, q.accountId ?? null, q.limit],
  );
  const last = r.rows.at(-1);
  return {
    events: r.rows.map(presentEvent),
    next: last ? `${last.txid}.${last.position}` : (q.after ?? '0.0'),
    hasMore: r.rows.length === q.limit,
  };
}
