/** Auto top-up settings as the API shows them, and their removal. */
import type { Pool } from 'pg';
import { nanoToDecimal } from '../rating/money.js';

export interface AutoTopUpView {
  balanceId: string;
  threshold: string;
  amount: string | null;
  target: string | null;
  maxPerDay: number;
  maxPerMonth: number;
  reference: string;
  enabled: boolean;
  consecutiveFailures: number;
  /** Requests the CRM has not reported on yet. */
  openRequests: string[];
}

export async function readAutoTopUp(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
): Promise<AutoTopUpView | null> {
  const r = await pool.query<{
    balance_id: string;
    threshold_nano: string;
    amount_nano: string | null;
    target_nano: string | null;
    max_per_day: number;
    max_per_month: number;
    reference: string;
    enabled: boolean;
    consecutive_failures: number;
    open: string[];
  }>(
    `SELECT r.*, ARRAY(SELECT q.id::text FROM ${schema}.auto_topup_requests q
                        WHERE q.tenant = r.tenant AND q.account_id = r.account_id AND q.status = 'requested'
                        ORDER BY q.requested_at) AS open
       FROM ${schema}.auto_topup_rules r WHERE r.tenant = $1 AND r.account_id = $2`,
    [tenant, accountId],
  );
  const x = r.rows[0];
  if (!x) return null;
  const money = (s: string | null) => (s === null ? null : nanoToDecimal(BigInt(s)));
  return {
    balanceId: x.balance_id,
    threshold: nanoToDecimal(BigInt(x.threshold_nano)),
    amount: money(x.amount_nano),
    target: money(x.target_nano),
    maxPerDay: x.max_per_day,
    maxPerMonth: x.max_per_month,
    reference: x.reference,
    enabled: x.enabled,
    consecutiveFailures: x.consecutive_failures,
    openRequests: x.open,
  };
}

export async function deleteAutoTopUp(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
): Promise<void> {
  await pool.query(`DELETE FROM ${schema}.auto_topup_rules WHERE tenant = $1 AND account_id = $2`, [
    tenant,
    accountId,
  ]);
}
