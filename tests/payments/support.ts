/**
 * What the payment and voucher tests share: the app on the test's Redis and PostgreSQL schema, keys
 * of two tenants (a customer of each), accounts with a main money balance, finalized invoices written
 * as the document module writes drafts, and snapshots of both stores to diff.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Response } from 'light-my-request';
import type pg from 'pg';
import { afterAll } from 'vitest';
import { ensureDocumentsSchema } from '../../src/billing/documents/schema.js';
import type { BalanceStore } from '../../src/balances/store.js';
import type { ApiKey } from '../../src/config.js';
import { ensurePaymentsSchema } from '../../src/payments/schema.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { draftOf, addDraft } from '../billing/documents/drafts.js';
import { testApp } from '../support/app.js';
import { dumpKeys } from '../support/redis-dump.js';
import type { RedisClient } from '../support/redis.js';

export const KEYS: ApiKey[] = ['acme', 'globex'].flatMap((tenant): ApiKey[] => [
  { key: `${tenant}-billing`, role: 'billing', tenant },
  { key: `${tenant}-network`, role: 'network', tenant },
  { key: `${tenant}-alice`, role: 'selfcare', tenant, accountId: 'alice' },
]);

export async function ensureMoneyInSchemas(
  pool: pg.Pool,
  schema: string,
  more: (() => Promise<void>)[] = [],
) {
  await ensureDocumentsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensurePaymentsSchema(pool, schema);
  for (const m of more) await m();
}

export interface Harness {
  app: FastifyInstance;
  balances: BalanceStore;
  call: (key: string, method: InjectOptions['method'], url: string, payload?: object) => Promise<Response>;
}

export async function harness(
  opts: Parameters<typeof testApp>[0] & { redis: RedisClient },
): Promise<Harness> {
  const { app, balances } = await testApp({ keys: KEYS, ...opts });
  afterAll(() => app.close());
  const call: Harness['call'] = (key, method, url, payload) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });
  return { app, balances, call };
}

export async function newAccount(
  balances: BalanceStore,
  tenant: string,
  id: string,
  opts: { type?: 'prepaid' | 'postpaid'; currency?: string; mainNano?: number } = {},
) {
  await balances.createAccount(
    {
      tenant,
      id,
      type: opts.type ?? 'postpaid',
      currency: opts.currency ?? 'GBP',
      subject: 'default',
      creditLimitNano: 1_000_000_000_000,
    },
    `create:${id}`,
  );
  await balances.addBalance(
    tenant,
    id,
    { id: 'main', unit: 'money', value: opts.mainNano ?? 0 },
    `main:${id}`,
  );
}

export async function mainNano(balances: BalanceStore, tenant: string, id: string): Promise<number> {
  const v = await balances.getAccount(tenant, id);
  return v!.balances.find((b) => b.id === 'main')!.value;
}

/** A finalized invoice of `totalNano` due on `dueDate` (a draft made final as finalize.ts does). */
export async function openInvoice(
  pool: pg.Pool,
  schema: string,
  tenant: string,
  accountId: string,
  billSeq: number,
  totalNano: bigint,
  dueDate: string,
): Promise<string> {
  const id = await addDraft(pool, schema, draftOf(tenant, accountId, billSeq));
  await pool.query(
    `UPDATE ${schema}.invoices SET status = 'finalized', total_nano = $2, amount_due_nano = $2, due_date = $3,
            issue_date = $3::date - 14, number = $4, finalized_at = now() WHERE id = $1`,
    [id, totalNano.toString(), dueDate, `T-${tenant}-${accountId}-${billSeq}`],
  );
  return id;
}

export async function invoiceState(pool: pg.Pool, schema: string, id: string) {
  const r = await pool.query<{ status: string; due: string }>(
    `SELECT status, amount_due_nano::text AS due FROM ${schema}.invoices WHERE id = $1`,
    [id],
  );
  return { status: r.rows[0]!.status, dueNano: BigInt(r.rows[0]!.due) };
}

/** Every row of these tables and every key under the prefix: what a refused request must not change. */
export async function snapshot(
  pool: pg.Pool,
  schema: string,
  tables: string[],
  redis: RedisClient,
  prefix: string,
) {
  const rows: Record<string, unknown[]> = {};
  for (const t of tables) rows[t] = (await pool.query(`SELECT * FROM ${schema}.${t} ORDER BY 1, 2`)).rows;
  return { rows, redis: await dumpKeys(redis, prefix) };
}
