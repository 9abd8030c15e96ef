/**
 * Reading an endpoint's deliveries and replaying them. A replay makes a delivery pending again with
 * a fresh schedule (the same `webhook-id`: receivers deduplicate on it): one event, or every event of
 * the endpoint's types that occurred in a time range — including events from before the endpoint
 * existed, so a new receiver can be filled in.
 */
import type { Pool } from 'pg';

export interface DeliveryView {
  eventId: string;
  eventType: string;
  accountId: string | null;
  sequence: number | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
}

interface Row {
  event_id: string;
  type: string;
  account_id: string | null;
  sequence: string | null;
  status: DeliveryView['status'];
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const present = (r: Row): DeliveryView => ({
  eventId: r.event_id,
  eventType: r.type,
  accountId: r.account_id,
  sequence: r.sequence === null ? null : Number(r.sequence),
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
  lastStatus: r.last_status,
  lastError: r.last_error,
  lastAttemptAt: iso(r.last_attempt_at),
  deliveredAt: iso(r.delivered_at),
});

/** The newest deliveries of an endpoint (the endpoint is the caller's: checked before). */
export async function listDeliveries(
  pool: Pool,
  schema: string,
  endpointId: string,
  q: { status?: string; limit: number },
): Promise<DeliveryView[]> {
  const r = await pool.query<Row>(
    `SELECT d.*, ev.type FROM ${schema}.webhook_deliveries d JOIN ${schema}.events ev ON ev.id = d.event_id
      WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
      ORDER BY d.created_at DESC, d.event_id LIMIT $3`,
    [endpointId, q.status ?? null, q.limit],
  );
  return r.rows.map(present);
}

export type ReplayWhat = { eventId: string } | { from: Date; to: Date };

/** Answers how many deliveries are pending again (0 for an event of another tenant: not found). */
export async function replay(
  pool: Pool,
  schema: string,
  tenant: string,
  endpointId: string,
  what: ReplayWhat,
): Promise<number> {
  const filter =
    'eventId' in what
      ? { sql: 'ev.id = $3', args: [what.eventId] }
      : {
          sql: `ev.occurred_at >= $3 AND ev.occurred_at < $4
                AND (ev.type = ANY (e.event_types) OR '*' = ANY (e.event_types))`,
          args: [what.from, what.to],
        };
  const r = await pool.query(
    `INSERT INTO ${schema}.webhook_deliveries
         (event_id, endpoint_id, tenant, account_id, sequence, status, next_attempt_at)
       SELECT ev.id, e.id, ev.tenant, ev.account_id, ev.sequence, 'pending', now()
         FROM ${schema}.events ev JOIN ${schema}.webhook_endpoints e ON e.id = $2 AND e.tenant = ev.tenant
        WHERE ev.tenant = $1 AND ${filter.sql}
     ON CONFLICT (event_id, endpoint_id) DO UPDATE
       SET status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL`,
    [tenant, endpointId, ...filter.args],
  );
  return r.rowCount ?? 0;
}
