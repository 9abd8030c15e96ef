/**
 * Suspension of postpaid accounts with an invoice unpaid `suspendAfterDays` past its due date, and
 * reactivation once nothing of theirs is overdue any more (a payment, a credit note, a void).
 *
 * The account's status lives in Redis, the record of why in PostgreSQL: each change is written as
 * an intent row first (`suspending`, `reactivating`), then the status in Redis under an operation id
 * made from the row (a rerun replays it), then the row's final state with its event in one
 * transaction (`account.suspended:dunning:{id}`, an id stored once). A crash anywhere is finished by
 * the next run. Only what the job suspended does it reactivate: an account suspended by staff stays.
 * A payment reactivates at once (reactivateIfSettled); a credit note or a void, at the next pass.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { appendEvent } from '../../webhooks/append.js';

export interface DunningDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  now: () => number;
}

type Step = 'suspend' | 'reactivate';

const candidatesSql = (s: string) => `
SELECT DISTINCT ON (i.tenant, i.account_id) i.tenant, i.account_id, i.id AS invoice_id,
       (($1::timestamptz AT TIME ZONE i.timezone)::date - i.due_date) AS days
  FROM ${s}.invoices i JOIN ${s}.dunning_settings d ON d.tenant = i.tenant
 WHERE d.suspend_after_days IS NOT NULL AND i.document_type = 'invoice' AND i.status = 'finalized'
   AND i.amount_due_nano > 0
   AND (($1::timestamptz AT TIME ZONE i.timezone)::date - i.due_date) >= d.suspend_after_days
   AND NOT EXISTS (SELECT 1 FROM ${s}.dunning_suspensions x
                    WHERE x.tenant = i.tenant AND x.account_id = i.account_id AND x.state <> 'reactivated')
 ORDER BY i.tenant, i.account_id, i.due_date, i.id LIMIT 500`;

/**
 * Suspensions the job holds on accounts with nothing overdue any more ($2, $3: one account's only, or
 * every account's when null), moved to `reactivating`.
 */
const settledSql = (s: string) => `
UPDATE ${s}.dunning_suspensions x SET state = 'reactivating'
 WHERE x.state = 'suspended' AND ($2::text IS NULL OR (x.tenant = $2 AND x.account_id = $3)) AND NOT EXISTS (
   SELECT 1 FROM ${s}.invoices i
    WHERE i.tenant = x.tenant AND i.account_id = x.account_id AND i.document_type = 'invoice'
      AND i.status = 'finalized' AND i.amount_due_nano > 0
      AND i.due_date < ($1::timestamptz AT TIME ZONE i.timezone)::date)
RETURNING x.id, x.tenant, x.account_id, x.invoice_id`;

/**
 * Reactivates the account at once if the job holds it suspended and nothing of it is overdue any
 * more: the payment path's call (payments/service.ts), the same rule as the pass. Answers whether it
 * reactivated. A crash halfway leaves the row `reactivating`, which the next pass finishes.
 */
export async function reactivateIfSettled(
  d: DunningDeps,
  tenant: string,
  accountId: string,
): Promise<boolean> {
  const at = new Date(d.now());
  const settled = await d.pool.query<Row>(settledSql(d.schema), [at, tenant, accountId]);
  let done = false;
  for (const row of settled.rows) done = (await finish(d, row, 'reactivate', at)) || done;
  return done;
}

type Row = { id: string; tenant: string; account_id: string; invoice_id: string };

/** One pass: new suspensions, reactivations, and any change a crash left halfway. */
export async function suspendAndReactivate(
  d: DunningDeps,
): Promise<{ suspended: number; reactivated: number }> {
  const at = new Date(d.now());
  const { pool, schema } = d;
  const due = await pool.query<{ tenant: string; account_id: string; invoice_id: string }>(
    candidatesSql(schema),
    [at],
  );
  for (const c of due.rows) {
    const a = await d.balances.accountInfo(c.tenant, c.account_id);
    // Prepaid accounts cannot owe; one suspended or closed by staff is left as it is.
    if (a?.type !== 'postpaid' || a.status !== 'active') continue;
    await pool.query(
      `INSERT INTO ${schema}.dunning_suspensions (tenant, account_id, invoice_id, state) VALUES ($1, $2, $3, 'suspending')
       ON CONFLICT DO NOTHING`,
      [c.tenant, c.account_id, c.invoice_id],
    );
  }
  await pool.query(settledSql(schema), [at, null, null]);
  const open = await pool.query<{
    id: string;
    tenant: string;
    account_id: string;
    invoice_id: string;
    state: string;
  }>(
    `SELECT id, tenant, account_id, invoice_id, state FROM ${schema}.dunning_suspensions
      WHERE state IN ('suspending', 'reactivating') ORDER BY id`,
  );
  const done = { suspended: 0, reactivated: 0 };
  for (const row of open.rows) {
    const step: Step = row.state === 'suspending' ? 'suspend' : 'reactivate';
    if (await finish(d, row, step, at)) done[step === 'suspend' ? 'suspended' : 'reactivated']++;
  }
  return done;
}

/** Sets the status in Redis (once per row and step), then the row and its event. */
async function finish(d: DunningDeps, row: Row, step: Step, at: Date): Promise<boolean> {
  const status = step === 'suspend' ? 'suspended' : 'active';
  const r = await d.balances.updateAccount(
    row.tenant,
    row.account_id,
    { status },
    `dunning:${step}:${row.id}`,
  );
  const changed = r.code === 'OK';
  const c = await d.pool.connect();
  try {
    await c.query('BEGIN');
    const moved = await c.query(
      `UPDATE ${d.schema}.dunning_suspensions
          SET state = $2, reactivated_at = CASE WHEN $2 = 'reactivated' THEN $3::timestamptz END
        WHERE id = $1 AND state = $4`,
      [
        row.id,
        step === 'suspend' ? 'suspended' : 'reactivated',
        at,
        step === 'suspend' ? 'suspending' : 'reactivating',
      ],
    );
    if (changed && moved.rowCount === 1)
      await appendEvent(c, d.schema, {
        tenant: row.tenant,
        accountId: row.account_id,
        id: `account.${status === 'active' ? 'reactivated' : 'suspended'}:dunning:${row.id}`,
        type: status === 'active' ? 'account.reactivated' : 'account.suspended',
        occurredAt: at,
        payload:
          step === 'suspend'
            ? { accountId: row.account_id, reason: 'invoice_overdue', invoiceId: row.invoice_id }
            : { accountId: row.account_id, reason: 'nothing_overdue' },
      });
    await c.query('COMMIT');
    return changed && moved.rowCount === 1;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
