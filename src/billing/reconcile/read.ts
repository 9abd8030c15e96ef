/**
 * What reconciliation reads from PostgreSQL for one account: its ledger sums per balance, and for a
 * postpaid account the figures of rule 2 (check.ts). Tables another part of the engine owns may be
 * absent (an engine without payments): they count as empty.
 */
import type { Pool } from 'pg';
import { ledgerTable } from '../../balances/ledger.js';
import { checkSchema } from '../run/schema.js';
import type { BalanceSide, PostpaidFigures } from './check.js';

/** Σ of one column per account, over these accounts only (one grouped statement for all of them). */
type Sums = Map<string, bigint>;

async function grouped(pool: Pool, sql: string, tenant: string, accounts: string[]): Promise<Sums> {
  const r = await pool.query<{ a: string; n: string }>(sql, [tenant, accounts]);
  return new Map(r.rows.map((x) => [x.a, BigInt(x.n)]));
}

/** Each account's ledger sums per own balance (scope a). */
export async function ledgerSums(
  pool: Pool,
  schema: string,
  tenant: string,
  accounts: string[],
): Promise<Map<string, BalanceSide[]>> {
  const r = await pool.query<{ a: string; b: string; u: string; n: string }>(
    `SELECT account_id AS a, balance_id AS b, min(unit) AS u, sum(delta)::text AS n FROM ${ledgerTable(schema)}
      WHERE tenant = $1 AND account_id = ANY($2) AND scope = 'a' GROUP BY account_id, balance_id ORDER BY 1, 2`,
    [tenant, accounts],
  );
  const out = new Map<string, BalanceSide[]>(accounts.map((a) => [a, []]));
  for (const x of r.rows) out.get(x.a)?.push({ balanceId: x.b, unit: x.u, nano: BigInt(x.n) });
  return out;
}

async function present(pool: Pool, schema: string, tables: string[]): Promise<Set<string>> {
  const r = await pool.query<{ t: string }>(
    `SELECT t FROM unnest($1::text[]) t WHERE to_regclass($2 || '.' || t) IS NOT NULL`,
    [tables, checkSchema(schema)],
  );
  return new Set(r.rows.map((x) => x.t));
}

const TABLES = [
  'rated_cdrs',
  'rated_records',
  'usage_adjustments',
  'charges',
  'invoices',
  'payments',
  'credit_notes',
];

/**
 * The statements of rule 2, one per figure (and per billable source), each grouped by account over
 * the batch: a tenant-wide check scans `rated_cdrs` once a batch, not once an account. A table absent
 * from the schema (an engine without payments) is left out: its figure is 0.
 */
function figureQueries(schema: string, has: Set<string>): Record<string, string[]> {
  const s = checkSchema(schema);
  const who = (t = '') => `${t}tenant = $1 AND ${t}account_id = ANY($2)`;
  const sum = (table: string, expr: string, where = '') =>
    has.has(table)
      ? [
          `SELECT account_id AS a, sum(${expr})::text AS n FROM ${s}.${table} WHERE ${who()} ${where} GROUP BY 1`,
        ]
      : [];
  const issued = `i.document_type = 'invoice' AND i.status IN ('finalized','paid','void')`;
  const invoices = has.has('invoices');
  return {
    due: sum('invoices', 'amount_due_nano', `AND document_type = 'invoice' AND status = 'finalized'`),
    billable: [
      ...sum('rated_cdrs', 'charged_nano'),
      ...sum('rated_records', 'charged_nano'),
      ...sum('usage_adjustments', 'delta_charged_nano'),
      ...sum('charges', 'amount_nano', `AND status = 'applied'`),
    ],
    billed: invoices
      ? [
          `SELECT i.account_id AS a, sum(trunc(l.exact_nano))::text AS n FROM ${s}.invoice_lines l
             JOIN ${s}.invoices i ON i.id = l.invoice_id WHERE ${who('i.')} AND ${issued} AND l.kind <> 'rounding' GROUP BY 1`,
        ]
      : [],
    unapplied: sum('payments', 'unapplied_nano - refunded_nano', `AND kind = 'payment'`),
    credit:
      invoices && has.has('credit_notes')
        ? [
            `SELECT i.account_id AS a, sum(n.total_nano)::text AS n FROM ${s}.credit_notes n
               JOIN ${s}.invoices i ON i.id = n.invoice_id WHERE ${who('i.')} AND ${issued} AND n.effect = 'account_credit' GROUP BY 1`,
          ]
        : [],
    manual: [
      `SELECT account_id AS a, sum(delta)::text AS n FROM ${ledgerTable(schema)} l
        WHERE ${who()} AND scope = 'a' AND unit = 'money' AND ${manualSql(s, has)} GROUP BY 1`,
    ],
  };
}

/**
 * A ledger row `l` of money moved by hand (top-ups, `credit:`/`debit:` adjustments without a charge
 * row): on no document by design. One definition for an account's own balances and a group's.
 */
function manualSql(s: string, has: Set<string>): string {
  return `(l.kind IN ('create', 'update', 'topup') OR l.op_id LIKE 'debit:%' OR l.op_id LIKE 'credit:%')
    ${has.has('charges') ? `AND NOT EXISTS (SELECT 1 FROM ${s}.charges c WHERE c.tenant = l.tenant AND c.op_id = l.op_id)` : ''}`;
}

/** One account's movements of its shared group's balances (ledger scope g), per balance. */
export interface GroupMoves {
  accountId: string;
  balanceId: string;
  unit: string;
  /** Σ deltas the account's operations made to this group balance. */
  nano: bigint;
  /** Of which money not moved by hand: what the group paid for the account (≤ 0), or gave back. */
  paidNano: bigint;
}

/**
 * The group-balance movements of the tenant's accounts (all of them, or these only), per account and
 * balance. The ledger names the account whose operation moved a group balance, not the group: the
 * caller maps accounts to their groups (Redis).
 */
export async function groupMoves(
  pool: Pool,
  schema: string,
  tenant: string,
  accounts?: string[],
): Promise<GroupMoves[]> {
  const s = checkSchema(schema);
  const has = await present(pool, schema, ['charges']);
  const r = await pool.query<{ a: string; b: string; u: string; n: string; p: string }>(
    `SELECT account_id AS a, balance_id AS b, min(unit) AS u, sum(delta)::text AS n,
            coalesce(sum(delta) FILTER (WHERE unit = 'money' AND NOT ${manualSql(s, has)}), 0)::text AS p
       FROM ${ledgerTable(schema)} l
      WHERE tenant = $1 AND scope = 'g' AND ($2::text[] IS NULL OR account_id = ANY($2::text[]))
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenant, accounts ?? null],
  );
  return r.rows.map((x) => ({
    accountId: x.a,
    balanceId: x.b,
    unit: x.u,
    nano: BigInt(x.n),
    paidNano: BigInt(x.p),
  }));
}

/** Rule 2's figures of these postpaid accounts (their Redis money given), by account. */
export async function postpaidFigures(
  pool: Pool,
  schema: string,
  tenant: string,
  money: Map<string, bigint>,
  groupPaid: Map<string, bigint> = new Map(),
): Promise<Map<string, PostpaidFigures>> {
  const accounts = [...money.keys()];
  const queries = figureQueries(schema, await present(pool, schema, TABLES));
  const totals: Record<string, Sums> = {};
  for (const [figure, sqls] of Object.entries(queries)) {
    const into: Sums = new Map();
    for (const sql of sqls)
      for (const [a, n] of await grouped(pool, sql, tenant, accounts)) into.set(a, (into.get(a) ?? 0n) + n);
    totals[figure] = into;
  }
  const of = (figure: string, a: string) => totals[figure]!.get(a) ?? 0n;
  return new Map(
    accounts.map((a) => [
      a,
      {
        moneyNano: money.get(a)! + (groupPaid.get(a) ?? 0n),
        groupPaidNano: groupPaid.get(a) ?? 0n,
        openDueNano: of('due', a),
        billableNano: of('billable', a),
        billedNano: of('billed', a),
        unappliedCreditNano: of('unapplied', a),
        accountCreditNano: of('credit', a),
        manualNano: of('manual', a),
      },
    ]),
  );
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
