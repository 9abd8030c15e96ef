/**
 * The trail of every document transition (invoice_audit, append-only) and the events written in the
 * same transaction as the fact (`invoice.finalized`, `invoice.voided`, `credit_note.issued`), which
 * issue F delivers. An event's id is its type and document id, so a fact is recorded once.
 */
import type { PoolClient } from 'pg';

export interface JournalEntry {
  tenant: string;
  documentId: string;
  accountId: string;
  action: string;
  event?: string;
  actor: string;
  at: Date;
  detail: Record<string, unknown>;
}

export async function journal(client: PoolClient, schema: string, entries: JournalEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const col = <K extends keyof JournalEntry>(k: K) => entries.map((e) => e[k]);
  await client.query(
    `INSERT INTO ${schema}.invoice_audit (tenant, document_id, action, actor, at, detail)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])`,
    [
      col('tenant'),
      col('documentId'),
      col('action'),
      col('actor'),
      col('at'),
      entries.map((e) => JSON.stringify(e.detail)),
    ],
  );
  const events = entries.filter((e) => e.event);
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
     ON CONFLICT (id) DO NOTHING`,
    [
      events.map((e) => `${e.event}:${e.documentId}`),
      events.map((e) => e.tenant),
      events.map((e) => e.event),
      events.map((e) => e.accountId),
      events.map((e) => e.at),
      events.map((e) => JSON.stringify({ id: e.documentId, ...e.detail })),
    ],
  );
}
