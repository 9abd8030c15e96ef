/**
 * Overdue reminders: every finalized invoice with money due past its due date (counted in days in
 * the invoice's time zone) gets `invoice.overdue` once per offset reached. The reminder rows and
 * the events are written in one transaction, and a row already there (another engine, a rerun)
 * writes nothing: each reminder goes out once.
 */
import type { Pool, PoolClient } from 'pg';
import { nanoToDecimal } from '../../rating/money.js';
import { appendEvent } from '../../webhooks/append.js';
import { DEFAULT_SETTINGS, remindersDue } from './rules.js';

const BATCH = 500;

interface OverdueRow {
  id: string;
  tenant: string;
  account_id: string;
  number: string | null;
  currency: string;
  due: string;
  due_date: string;
  days: number;
  offsets: number[];
  sent: number[];
}

/** Invoices with a reminder offset reached and not yet recorded, a batch at a time. */
const overdueSql = (s: string) => `
SELECT * FROM (
  SELECT i.id, i.tenant, i.account_id, i.number, i.currency, i.amount_due_nano::text AS due,
         i.due_date::text AS due_date,
         (($1::timestamptz AT TIME ZONE i.timezone)::date - i.due_date) AS days,
         coalesce(d.reminder_days, $2::int[]) AS offsets,
         ARRAY(SELECT r.offset_days FROM ${s}.invoice_reminders r WHERE r.invoice_id = i.id) AS sent
    FROM ${s}.invoices i LEFT JOIN ${s}.dunning_settings d ON d.tenant = i.tenant
   WHERE i.document_type = 'invoice' AND i.status = 'finalized' AND i.amount_due_nano > 0
     AND i.due_date < ($1::timestamptz AT TIME ZONE i.timezone)::date
) o
WHERE EXISTS (SELECT 1 FROM unnest(o.offsets) x WHERE x <= o.days AND x <> ALL (o.sent))
ORDER BY o.id LIMIT ${BATCH}`;

/** Sends what is due as of `nowMs`; answers how many reminders went out. */
export async function remindOverdue(pool: Pool, schema: string, nowMs: number): Promise<number> {
  let sent = 0;
  for (;;) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const rows = await c.query<OverdueRow>(overdueSql(schema), [
        new Date(nowMs),
        DEFAULT_SETTINGS.reminderDays,
      ]);
      for (const row of rows.rows) sent += await remind(c, schema, row, nowMs);
      await c.query('COMMIT');
      if (rows.rows.length < BATCH) return sent;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}

async function remind(c: PoolClient, schema: string, row: OverdueRow, nowMs: number): Promise<number> {
  const { record, send } = remindersDue(row.days, row.offsets, row.sent);
  const inserted = await c.query<{ offset_days: number }>(
    `INSERT INTO ${schema}.invoice_reminders (invoice_id, offset_days, tenant)
     SELECT $1, x, $2 FROM unnest($3::int[]) x ON CONFLICT DO NOTHING RETURNING offset_days`,
    [row.id, row.tenant, record],
  );
  // Another engine recorded them first: it sends the reminder.
  if (send === null || !inserted.rows.some((r) => r.offset_days === send)) return 0;
  await appendEvent(c, schema, {
    tenant: row.tenant,
    accountId: row.account_id,
    id: `invoice.overdue:${row.id}:${send}`,
    type: 'invoice.overdue',
    occurredAt: new Date(nowMs),
    payload: {
      invoiceId: row.id,
      number: row.number,
      currency: row.currency,
      amountDue: nanoToDecimal(BigInt(row.due)),
      dueDate: row.due_date,
      daysOverdue: row.days,
      reminderDays: send,
    },
  });
  return 1;
}
