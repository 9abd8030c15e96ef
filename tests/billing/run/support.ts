/**
 * A billing world for the run's tests: every table on one test schema, accounts in Redis and their
 * billing profiles, and helpers that write billable rows the way production writers do (CDR import,
 * the drain's RecordRows, rerate's applyPending, an applied charge under the cut-off lock).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { RedisClient as Redis } from '../../../src/infra/redis.js';
import { createBalanceStore, type BalanceStore } from '../../../src/balances/store.js';
import { ensureLedgerSchema } from '../../../src/balances/ledger.js';
import { ensureDocumentsSchema } from '../../../src/billing/documents/schema.js';
import { ensurePlansSchema } from '../../../src/billing/plans/schema.js';
import { lockCutShared } from '../../../src/billing/run/cutoff.js';
import { ensureRunSchema } from '../../../src/billing/run/schema.js';
import type { RunDeps } from '../../../src/billing/run/run.js';
import { applyPending, ensurePendingTable } from '../../../src/cdr/rerate-sql.js';
import { ensureCdrSchema } from '../../../src/cdr/store.js';
import { ensureRecordsSchema, RecordRows, type RatedRecord } from '../../../src/storage/records.js';

export async function ensureAll(pool: Pool, schema: string): Promise<void> {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensurePendingTable(pool, schema);
  await ensurePlansSchema(pool, schema);
  await ensureDocumentsSchema(pool, schema);
  await ensureRunSchema(pool, schema);
}

export function runDeps(pool: Pool, schema: string, redis: Redis, prefix: string, nowMs: number): RunDeps {
  return {
    pool,
    schema,
    balances: createBalanceStore({ redis, keyPrefix: prefix }),
    now: () => nowMs,
    chunkSize: 2,
  };
}

export interface Profile {
  id: string;
  type?: 'prepaid' | 'postpaid';
  currency?: string;
  createdAt: string;
  billCycleDay?: number;
  taxProfile?: string | null;
  graceHours?: number;
  msisdn?: string;
}

/** An account in Redis (money balance 'main' at `money` nano) and its billing profile in PostgreSQL. */
export async function addAccount(balances: BalanceStore, pool: Pool, schema: string, p: Profile, money = 0) {
  const type = p.type ?? 'postpaid';
  await balances.createAccount(
    {
      tenant: 'acme',
      id: p.id,
      type,
      currency: p.currency ?? 'GBP',
      subject: p.id,
      subscriptions: p.msisdn ? [{ type: 'msisdn', value: p.msisdn }] : [],
      ...(type === 'postpaid' ? { creditLimitNano: 1_000_000_000_000 } : {}),
    },
    `create-${p.id}`,
  );
  await balances.addBalance('acme', p.id, { id: 'main', unit: 'money', value: money }, `main-${p.id}`);
  await pool.query(
    `INSERT INTO ${schema}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, tax_profile, grace_hours, created_at)
     VALUES ('acme', $1, $2, $3, 'UTC', $4, $5, $6, $7, $8)`,
    [
      p.id,
      type,
      p.currency ?? 'GBP',
      p.billCycleDay ?? 1,
      type === 'postpaid' ? 'invoice' : 'statement',
      p.taxProfile ?? null,
      p.graceHours ?? 0,
      p.createdAt,
    ],
  );
}

/** UK VAT at 20 % from 2020, mapped for fees, one-offs and all usage. */
export async function addVat(pool: Pool, schema: string): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.taxes (tenant, code, valid_from, rate) VALUES ('acme', 'VAT', '2020-01-01', 0.2)`,
  );
  await pool.query(`INSERT INTO ${schema}.tax_profiles (tenant, code, mapping) VALUES ('acme', 'uk', $1)`, [
    JSON.stringify({ fee: 'VAT', one_off: 'VAT', usage: 'VAT' }),
  ]);
}

/** A copy of the sample CDR day for these accounts' subscribers only, under other CDR ids. */
export function sampleFor(name: string, msisdns: string[]): string {
  const lines = readFileSync('cdr-samples/acme-2026-11-20.csv', 'utf8').split('\n');
  const keep = lines.filter((l, i) => i === 0 || msisdns.some((m) => l.includes(`,${m},`)));
  const path = join(tmpdir(), `b4-run-${name}-${process.pid}.csv`);
  writeFileSync(path, keep.join('\n').replace(/^cdr-/gm, `${name}-`) + '\n');
  return path;
}

/** One CDR line for a subscriber (an SMS) at this time. */
export function oneCdr(name: string, msisdn: string, at: string): string {
  const path = join(tmpdir(), `b4-run-${name}-${process.pid}.csv`);
  writeFileSync(
    path,
    `cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group\n${name},acme,${msisdn},sms,sms,+34612345678,${at},1,,\n`,
  );
  return path;
}

/** A rated record stored as the drain stores it (a session's record carries the money it took). */
export async function storeRecord(
  pool: Pool,
  schema: string,
  r: Partial<RatedRecord> & { record_id: string; account_id: string },
) {
  const rows = new RecordRows();
  const record: RatedRecord = {
    tenant: 'acme',
    kind: 'session',
    category: 'data',
    tor: 'data',
    destination: '*any',
    started_at: '2026-11-25T10:00:00.000Z',
    usage: 1_000_000,
    cost_nano: 50_000_000,
    currency: 'GBP',
    result_code: 2001,
    close_cause: 'terminate',
    breakdown: null,
    ...r,
  };
  rows.addRated(JSON.stringify([record]));
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await lockCutShared(c, schema, ['acme']);
    await rows.insert(c, schema);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

/** A rerate of one stored CDR by rerate's own PostgreSQL step: new price, the money difference. */
export async function rerateCdr(pool: Pool, schema: string, cdrId: string, deltaNano: bigint): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.cdr_rerate_pending (cdr_id, answer_time, tenant, account_id, rerated, cost_nano, charged_delta_nano, rated_usage, breakdown)
     SELECT cdr_id, answer_time, tenant, account_id, rerated, cost_nano + $2, $2, rated_usage, breakdown
       FROM ${schema}.rated_cdrs WHERE cdr_id = $1`,
    [cdrId, deltaNano.toString()],
  );
  const c = await pool.connect();
  try {
    await applyPending(c, schema);
  } finally {
    c.release();
  }
}

/** An applied fee as the charges step leaves it: debited in Redis (forced), the row applied under the lock. */
export async function applyFee(
  balances: BalanceStore,
  pool: Pool,
  schema: string,
  accountId: string,
  opId: string,
  nano: number,
) {
  const r = await balances.debit('acme', accountId, {
    opId,
    charge: { unit: 'generic', units: 0, amountNano: nano },
    force: true,
  });
  if (r.code !== 'OK') throw new Error(`fee ${opId}: ${r.code}`);
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await lockCutShared(c, schema, ['acme']);
    await c.query(
      `INSERT INTO ${schema}.charges (tenant, account_id, op_id, kind, description, amount_nano, currency, event_time, status, stored_at)
       VALUES ('acme', $1, $2, 'fee', 'Plan fee', $3, 'GBP', '2026-11-01T00:00:00Z', 'applied', statement_timestamp())`,
      [accountId, opId, nano],
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

export async function moneyOf(balances: BalanceStore, accountId: string): Promise<bigint> {
  const view = await balances.getAccount('acme', accountId);
  return BigInt(view!.balances.find((b) => b.id === 'main')!.value);
}
