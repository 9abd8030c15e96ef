/**
 * What reconciliation reads from PostgreSQL for one account: its ledger sums per balance, and for a
 * postpaid account the figures of rule 2 (check.ts). Tables another part of the engine owns may be
 * absent (an engine without payments): they count as empty.
 */
import type { Pool } from 'pg';
import { ledgerTable } from '../../balances/ledger.js';
import { checkSchema } from '../run/schema.js';
import type { BalanceSide, PostpaidFigures } from './check.js';

export async function ledgerSums(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
): Promise<BalanceSide[]> {
  const r = await pool.query<{ b: string; u: string; n: string }>(
    `SELECT balance_id AS b, min(unit) AS u, sum(delta)::text AS n FROM ${ledgerTable(schema)}
      WHERE tenant = $1 AND account_id = $2 AND scope = 'a' GROUP BY balance_id ORDER BY balance_id`,
    [tenant, accountId],
  );
  return r.rows.map((x) => ({ balanceId: x.b, unit: x.u, nano: BigInt(x.n) }));
}

async function present(pool: Pool, schema: string, tables: string[]): Promise<Set<string>> {
  const r = await pool.query<{ t: string }>(
    `SELECT t FROM unnest($1::text[]) t WHERE to_regclass($2 || '.' || t) IS NOT NULL`,
    [tables, checkSchema(schema)],
  );
  return new Set(r.rows.map((x) => x.t));
}

/** One sum (bigint text) per part; a part whose table is absent is 0. */
function sumOf(has: Set<string>, table: string, sql: string): string {
  return has.has(table) ? `coalesce((${sql}), 0)` : '0';
}

export async function postpaidFigures(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  moneyNano: bigint,
): Promise<PostpaidFigures> {
  const s = checkSchema(schema);
  const has = await present(pool, schema, [
    'rated_cdrs',
    'rated_records',
    'usage_adjustments',
    'charges',
    'invoices',
    'payments',
    'credit_notes',
  ]);
  const who = `tenant = $1 AND account_id = $2`;
  const issued = `SELECT id FROM ${s}.invoices WHERE ${who} AND document_type = 'invoice' AND status IN ('finalized','paid','void')`;
  const r = await pool.query<Record<string, string>>(
    `SELECT
       (${sumOf(has, 'invoices', `SELECT sum(amount_due_nano) FROM ${s}.invoices WHERE ${who} AND document_type = 'invoice' AND status = 'finalized'`)})::text AS due,
       (${sumOf(has, 'rated_cdrs', `SELECT sum(charged_nano) FROM ${s}.rated_cdrs WHERE ${who}`)}
        + ${sumOf(has, 'rated_records', `SELECT sum(charged_nano) FROM ${s}.rated_records WHERE ${who}`)}
        + ${sumOf(has, 'usage_adjustments', `SELECT sum(delta_charged_nano) FROM ${s}.usage_adjustments WHERE ${who}`)}
        + ${sumOf(has, 'charges', `SELECT sum(amount_nano) FROM ${s}.charges WHERE ${who} AND status = 'applied'`)})::text AS billable,
       (${sumOf(has, 'invoices', `SELECT sum(trunc(exact_nano)) FROM ${s}.invoice_lines WHERE kind <> 'rounding' AND invoice_id IN (${issued})`)})::text AS billed,
       (${sumOf(has, 'payments', `SELECT sum(unapplied_nano - refunded_nano) FROM ${s}.payments WHERE ${who} AND kind = 'payment'`)})::text AS unapplied,
       (${sumOf(has, 'credit_notes', `SELECT sum(total_nano) FROM ${s}.credit_notes WHERE effect = 'account_credit' AND invoice_id IN (${issued})`)})::text AS credit,
       (SELECT coalesce(sum(delta), 0) FROM ${ledgerTable(schema)} l
         WHERE ${who} AND scope = 'a' AND unit = 'money'
           AND (kind IN ('create', 'update', 'topup') OR op_id LIKE 'debit:%' OR op_id LIKE 'credit:%')
           ${has.has('charges') ? `AND NOT EXISTS (SELECT 1 FROM ${s}.charges c WHERE c.tenant = l.tenant AND c.op_id = l.op_id)` : ''}
       )::text AS manual`,
    [tenant, accountId],
  );
  const x = r.rows[0]!;
  return {
    moneyNano,
    openDueNano: BigInt(x.due!),
    billableNano: BigInt(x.billable!),
    billedNano: BigInt(x.billed!),
    unappliedCreditNano: BigInt(x.unapplied!),
    accountCreditNano: BigInt(x.credit!),
    manualNano: BigInt(x.manual!),
  };
}

/** The accounts a tenant-wide check covers: every account with a billing profile. */
export async function profiledAccounts(
  pool: Pool,
  schema: string,
  tenant: string,
  limit = 1_000_000,
): Promise<{ accountId: string; postpaid: boolean }[]> {
  const r = await pool.query<{ a: string; t: string }>(
    `SELECT account_id AS a, account_type AS t FROM ${checkSchema(schema)}.billing_accounts
      WHERE tenant = $1 ORDER BY account_id LIMIT $2`,
    [tenant, limit],
  );
  return r.rows.map((x) => ({ accountId: x.a, postpaid: x.t === 'postpaid' }));
}
