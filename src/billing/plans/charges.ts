/**
 * Fees as rows (charges): written `pending`, then debited in Redis under the fee's operation id, then
 * `applied` (with `stored_at`, when it becomes billable) or `failed`. The fee of a period and its
 * discounts (and, at assignment, the setup fee) are one Redis debit of the net: the ledger holds
 * one movement, the invoice the lines that make it up.
 */
import type { PoolClient } from 'pg';
import { BalanceCode } from '../../balances/codes.js';
import type { BalanceStore } from '../../balances/store.js';
import { PlansError } from './errors.js';

export type ChargeKind = 'fee' | 'setup' | 'one_off' | 'proration' | 'discount' | 'adjustment';

export interface NewCharge {
  opId: string;
  kind: ChargeKind;
  description: string;
  quantity: number | null;
  amountNano: bigint;
  currency: string;
  taxCode: string | null;
  serviceStart: number;
  serviceEnd: number;
  accountPlanId: string;
}

export async function insertCharges(
  c: PoolClient,
  schema: string,
  tenant: string,
  accountId: string,
  rows: NewCharge[],
): Promise<void> {
  for (const r of rows)
    await c.query(
      `INSERT INTO ${schema}.charges (tenant, account_id, op_id, kind, description, quantity, amount_nano, currency,
         tax_code, event_time, service_start, service_end, account_plan_id, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, 'pending')
       ON CONFLICT (tenant, op_id) DO NOTHING`,
      [
        tenant,
        accountId,
        r.opId,
        r.kind,
        r.description,
        r.quantity,
        r.amountNano.toString(),
        r.currency,
        r.taxCode,
        new Date(r.serviceStart),
        new Date(r.serviceEnd),
        r.accountPlanId,
      ],
    );
}

/** The charges of one debit (same op id prefix), as stored: their net and whether any was applied. */
export async function chargesOf(c: PoolClient, schema: string, tenant: string, opIds: string[]) {
  const r = await c.query<{ amount_nano: string; status: string }>(
    `SELECT amount_nano::text, status FROM ${schema}.charges WHERE tenant = $1 AND op_id = ANY($2::text[])`,
    [tenant, opIds],
  );
  return { found: r.rows.length, netNano: r.rows.reduce((s, x) => s + BigInt(x.amount_nano), 0n) };
}

export async function settleCharges(
  c: PoolClient,
  schema: string,
  tenant: string,
  opIds: string[],
  outcome: { status: 'applied' } | { status: 'failed'; code: string },
): Promise<void> {
  await c.query(
    `UPDATE ${schema}.charges SET status = $3, failure_code = $4,
            stored_at = CASE WHEN $3 = 'applied' THEN statement_timestamp() ELSE NULL END
      WHERE tenant = $1 AND op_id = ANY($2::text[]) AND status <> 'applied'`,
    [tenant, opIds, outcome.status, outcome.status === 'failed' ? outcome.code : null],
  );
}

/** A nano amount Redis holds exactly (the scripts take safe integers). */
function redisAmount(nano: bigint): number {
  if (nano < 0n || nano > BigInt(Number.MAX_SAFE_INTEGER))
    throw new PlansError('INVALID_REQUEST', `a fee of ${nano} nano does not fit the balance store`);
  return Number(nano);
}

/**
 * Debits a net fee (nothing for zero) under `opId`; `force` passes the account's floor (postpaid
 * fees, `allow_negative` plans). Returns the store's code and the money balance's value after.
 */
export async function debitFee(
  balances: BalanceStore,
  tenant: string,
  accountId: string,
  opId: string,
  netNano: bigint,
  force: boolean,
): Promise<{ code: string; valueAfter?: number }> {
  if (netNano <= 0n) return { code: BalanceCode.OK };
  const r = await balances.debit(tenant, accountId, {
    opId,
    kind: 'debit',
    force,
    charge: { unit: 'generic', units: 0, amountNano: redisAmount(netNano) },
  });
  const money = r.movements.filter((m) => m.unit === 'money').at(-1);
  return { code: r.code, ...(money ? { valueAfter: money.valueAfter } : {}) };
}

export async function insertEvent(
  c: PoolClient,
  schema: string,
  e: { id: string; tenant: string; type: string; accountId: string; occurredAt: number; payload: object },
): Promise<void> {
  await c.query(
    `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [e.id, e.tenant, e.type, e.accountId, new Date(e.occurredAt), JSON.stringify(e.payload)],
  );
}
