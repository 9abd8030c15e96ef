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

export async function appendEvent(client: PoolClient, schema: string, e: NewEvent): Promise<AppendedEvent> {
  const id = e.id ?? randomUUID();
  const r = await client.query<{ sequence: string | null }>(
    `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING sequence`,
    [id, e.tenant, e.type, e.accountId ?? null, e.occurredAt ?? new Date(), JSON.stringify(e.payload)],
  );
  if (r.rows[0]) return { id, sequence: toNumber(r.rows[0].sequence), created: true };
  const old = await client.query<{ sequence: string | null }>(
    `SELECT sequence FROM ${schema}.events WHERE id = $1`,
    [id],
  );
  return { id, sequence: toNumber(old.rows[0]?.sequence ?? null), created: false };
}

const toNumber = (s: string | null) => (s === null ? null : Number(s));
