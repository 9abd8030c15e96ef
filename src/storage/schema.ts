/**
 * Every table the engine writes, created or upgraded at start, once at a time across the engines and
 * commands starting on the same schema (migrate.ts underSchemaLock).
 */
import type { Pool } from 'pg';
import { ensureLedgerSchema } from '../balances/ledger.js';
import { ensureDocumentsSchema } from '../billing/documents/schema.js';
import { ensurePlansSchema } from '../billing/plans/schema.js';
import { ensureRunSchema } from '../billing/run/schema.js';
import { ensureJobsSchema } from '../cdr/jobs.js';
import { ensureCdrSchema } from '../cdr/store.js';
import { underSchemaLock } from './migrate.js';
import { ensureRecordsSchema } from './records.js';
import { ensureWebhooksSchema } from '../webhooks/schema.js';
import { ensurePaymentsSchema } from '../payments/schema.js';
import { ensureVouchersSchema } from '../vouchers/schema.js';
import { ensureNotificationsSchema } from '../notifications/schema.js';
import { ensureDunningSchema } from '../billing/dunning/schema.js';
import { ensureUsageSchema } from '../usage/schema.js';
import { ensureStatementsSchema } from '../billing/statements/store.js';

export function ensureEngineSchema(pool: Pool, schema: string): Promise<void> {
  return underSchemaLock(pool, schema, async () => {
    await ensureLedgerSchema(pool, schema);
    await ensureRecordsSchema(pool, schema);
    await ensureCdrSchema(pool, schema);
    await ensureJobsSchema(pool, schema);
    await ensureDocumentsSchema(pool, schema);
    await ensureWebhooksSchema(pool, schema); // after the documents: it adds to their events table
    await ensureRunSchema(pool, schema);
    await ensurePlansSchema(pool, schema);
    await ensurePaymentsSchema(pool, schema);
    await ensureVouchersSchema(pool, schema);
    await ensureNotificationsSchema(pool, schema); // after the ledger and the events table
    await ensureDunningSchema(pool, schema); // after the documents: it indexes the invoices
    await ensureUsageSchema(pool, schema); // after the rated records: it indexes them
    await ensureStatementsSchema(pool, schema);
  });
}
