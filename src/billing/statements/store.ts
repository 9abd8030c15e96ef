/**
 * Prepaid statements in PostgreSQL (`ledger_statements`): one row per account and bill period, with
 * its figures as stored JSON. Written once per (tenant, account, period start) — a producer that
 * runs again, or two at once, writes nothing twice — and never changed afterwards.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { checkSchema } from '../run/schema.js';

export async function ensureStatementsSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.ledger_statements (
    id uuid PRIMARY KEY, tenant text NOT NULL, account_id text NOT NULL,
    period_start timestamptz NOT NULL, period_end timestamptz NOT NULL, currency char(3) NOT NULL,
    opening_nano bigint NOT NULL, credits_nano bigint NOT NULL, debits_nano bigint NOT NULL,
    closing_nano bigint NOT NULL, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, account_id, period_start))`);
}

/** The statement's id: the same account and period always get the same one. */
export function statementId(tenant: string, accountId: string, periodStartMs: number): string {
  const h = createHash('sha256')
    .update(`stm\u0000${tenant}\u0000${accountId}\u0000${periodStartMs}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface StoredStatement {
  id: string;
  accountId: string;
  periodStart: string;
  periodEnd: string;
  currency: string;
  /** Decimal strings in the currency's minor unit and exact nano (see present.ts). */
  body: Record<string, unknown>;
  createdAt: string;
}

export interface NewStatement {
  tenant: string;
  accountId: string;
  periodStartMs: number;
  periodEndMs: number;
  currency: string;
  openingNano: bigint;
  creditsNano: bigint;
  debitsNano: bigint;
  closingNano: bigint;
  body: Record<string, unknown>;
}

/** Inserts the statement unless one exists for that period; true when this call wrote it. */
export async function insertStatement(pool: Pool, schema: string, st: NewStatement): Promise<boolean> {
  const r = await pool.query(
    `INSERT INTO ${checkSchema(schema)}.ledger_statements
       (id, tenant, account_id, period_start, period_end, currency, opening_nano, credits_nano, debits_nano,
        closing_nano, body)
     VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0), $6, $7, $8, $9, $10, $11)
     ON CONFLICT (tenant, account_id, period_start) DO NOTHING`,
    [
      statementId(st.tenant, st.accountId, st.periodStartMs),
      st.tenant,
      st.accountId,
      st.periodStartMs,
      st.periodEndMs,
      st.currency,
      st.openingNano.toString(),
      st.creditsNano.toString(),
      st.debitsNano.toString(),
      st.closingNano.toString(),
      JSON.stringify(st.body),
    ],
  );
  return r.rowCount === 1;
}

/** The account's latest statement: where the next one starts and what it opens with. */
export async function lastStatement(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
): Promise<{ periodEndMs: number; closingNano: bigint } | null> {
  const r = await pool.query<{ e: string; c: string }>(
    `SELECT (extract(epoch FROM period_end) * 1000)::bigint::text AS e, closing_nano::text AS c
       FROM ${checkSchema(schema)}.ledger_statements WHERE tenant = $1 AND account_id = $2
      ORDER BY period_start DESC LIMIT 1`,
    [tenant, accountId],
  );
  const row = r.rows[0];
  return row ? { periodEndMs: Number(row.e), closingNano: BigInt(row.c) } : null;
}

const COLUMNS = `id, account_id AS "accountId", to_json(period_start) #>> '{}' AS "periodStart",
  to_json(period_end) #>> '{}' AS "periodEnd", currency, body, to_json(created_at) #>> '{}' AS "createdAt"`;

/** Statements of an account, oldest first (at most `limit`). */
export async function listStatements(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  limit: number,
): Promise<StoredStatement[]> {
  const r = await pool.query<StoredStatement>(
    `SELECT ${COLUMNS} FROM ${checkSchema(schema)}.ledger_statements
      WHERE tenant = $1 AND account_id = $2 ORDER BY period_start LIMIT $3`,
    [tenant, accountId, limit],
  );
  return r.rows;
}

/** One statement, if it is the tenant's (and the customer's own, when `accountId` is given). */
export async function getStatement(
  pool: Pool,
  schema: string,
  reader: { tenant: string; accountId?: string },
  id: string,
): Promise<StoredStatement | null> {
  const r = await pool.query<StoredStatement>(
    `SELECT ${COLUMNS} FROM ${checkSchema(schema)}.ledger_statements
      WHERE id = $1 AND tenant = $2 AND ($3::text IS NULL OR account_id = $3)`,
    [id, reader.tenant, reader.accountId ?? null],
  );
  return r.rows[0] ?? null;
}
