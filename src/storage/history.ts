/** Reads of what happened, from PostgreSQL: rated records and the trail of charging requests. */
import type { Pool } from 'pg';

export interface History {
  pool: Pool;
  schema: string;
}

export async function trailOf(h: History, tenant: string, sessionId: string) {
  const requests = await h.pool.query(
    `SELECT request_number AS "requestNumber", phase, request, answer, at FROM ${h.schema}.charging_requests
      WHERE tenant = $1 AND session_id = $2 ORDER BY request_number, at`,
    [tenant, sessionId],
  );
  const records = await h.pool.query(
    `SELECT record_id AS "recordId", account_id AS "accountId", kind, category, tor, destination, started_at AS "startedAt",
            usage::text, cost_nano::text AS "costNano", currency, result_code AS "resultCode", close_cause AS "closeCause", breakdown
       FROM ${h.schema}.rated_records WHERE tenant = $1 AND (record_id = 'event:' || $2 OR
            -- the id is text, not a LIKE pattern ("%" would match every session), then the rating group
            (starts_with(record_id, 'session:' || $2 || ':') AND substr(record_id, length($2) + 10) ~ '^[0-9]+$'))
      ORDER BY record_id`,
    [tenant, sessionId],
  );
  return { requests: requests.rows, records: records.rows };
}

export async function usageOf(h: History, tenant: string, accountId: string, limit: number) {
  const r = await h.pool.query(
    `SELECT record_id AS "recordId", kind, category, tor, destination, started_at AS "startedAt", usage::text,
            cost_nano::text AS "costNano", currency, close_cause AS "closeCause"
       FROM ${h.schema}.rated_records WHERE tenant = $1 AND account_id = $2 ORDER BY started_at DESC, record_id LIMIT $3`,
    [tenant, accountId, limit],
  );
  return r.rows;
}
