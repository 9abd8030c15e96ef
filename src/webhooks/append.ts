/**
 * The one way a producer records an account event: inside the transaction of the fact, so there is
 * never a fact without its event nor an event without its fact. The table's triggers (schema.ts) give
 * it the account's next sequence and queue its webhook deliveries; an id already stored is the same
 * fact recorded again and changes nothing (the first event's sequence is answered).
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { EventType } from './event-types.js';

export interface NewEvent {
  tenant: string;
  type: EventType;
  /** Absent for tenant-wide events (a billing run, an endpoint disabled): they have no sequence. */
  accountId?: string;
  payload: object;
  /** The fact's own id (e.g. `invoice.finalized:{invoiceId}`) makes the event idempotent; else a UUID. */
  id?: string;
  occurredAt?: Date;
}

export interface AppendedEvent {
  id: string;
  sequence: number | null;
  /** False when the id was already stored (the fact recorded before). */
  created: boolean;
}

/**
 * The one INSERT of events, from `rows`: a query (VALUES, unnest, or a CTE's rows in a producer's own
 * statement) answering id, tenant, type, account_id, occurred_at, payload in that order. Rows are
 * numbered in the order the query gives them; an id already stored is skipped.
 */
export const insertEventsSql = (schema: string, rows: string) =>
  `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
   ${rows} ON CONFLICT (id) DO NOTHING`;

export async function appendEvent(client: PoolClient, schema: string, e: NewEvent): Promise<AppendedEvent> {
  const id = e.id ?? randomUUID();
  const r = await client.query<{ sequence: string | null }>(
    `${insertEventsSql(schema, 'VALUES ($1, $2, $3, $4, $5::timestamptz, $6::jsonb)')} RETURNING sequence`,
    [id, e.tenant, e.type, e.accountId ?? null, e.occurredAt ?? new Date(), JSON.stringify(e.payload)],
  );
  if (r.rows[0]) return { id, sequence: toNumber(r.rows[0].sequence), created: true };
  const old = await client.query<{ sequence: string | null }>(
    `SELECT sequence FROM ${schema}.events WHERE id = $1`,
    [id],
  );
  return { id, sequence: toNumber(old.rows[0]?.sequence ?? null), created: false };
}

/**
 * Many events in one statement (a producer with many facts in one transaction: the notification
 * detector's pass). The same rules as one by one, in the order given: each account's events take its
 * next sequence numbers in that order; an id already stored, or given twice, is appended once.
 */
export async function appendEvents(
  client: PoolClient,
  schema: string,
  events: NewEvent[],
): Promise<AppendedEvent[]> {
  const ids = events.map((e) => e.id ?? randomUUID());
  // An id twice in one statement would take a number the conflict then throws away: the first only.
  const first = new Map<string, number>();
  ids.forEach((id, i) => first.has(id) || first.set(id, i));
  const rows = [...first.values()].map((i) => ({ id: ids[i]!, e: events[i]! }));
  if (rows.length === 0) return [];
  const r = await client.query<{ id: string; sequence: string | null }>(
    `${insertEventsSql(
      schema,
      `SELECT id, tenant, type, account_id, occurred_at, payload
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
              WITH ORDINALITY AS t(id, tenant, type, account_id, occurred_at, payload, n)
        ORDER BY n`,
    )} RETURNING id, sequence`,
    [
      rows.map((x) => x.id),
      rows.map((x) => x.e.tenant),
      rows.map((x) => x.e.type),
      rows.map((x) => x.e.accountId ?? null),
      rows.map((x) => x.e.occurredAt ?? new Date()),
      rows.map((x) => JSON.stringify(x.e.payload)),
    ],
  );
  const created = new Map(r.rows.map((x) => [x.id, toNumber(x.sequence)]));
  const old = new Map<string, number | null>();
  const missing = [...first.keys()].filter((id) => !created.has(id));
  if (missing.length > 0) {
    const o = await client.query<{ id: string; sequence: string | null }>(
      `SELECT id, sequence FROM ${schema}.events WHERE id = ANY($1::text[])`,
      [missing],
    );
    for (const x of o.rows) old.set(x.id, toNumber(x.sequence));
  }
  // Each given event answers as its id did: the second of a twice-given id as not created.
  return ids.map((id, i) =>
    created.has(id) && first.get(id) === i
      ? { id, sequence: created.get(id)!, created: true }
      : { id, sequence: created.get(id) ?? old.get(id) ?? null, created: false },
  );
}

const toNumber = (s: string | null) => (s === null ? null : Number(s));
