/**
 * What the voucher tests share: the app with vouchers (and plans) on the test's stores, keys of two
 * tenants with a customer each, accounts, a batch made over HTTP and its PINs read from the CSV.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { voucherKeys } from '../../src/vouchers/keys.js';
import { ensurePlansSchema } from '../../src/billing/plans/schema.js';
import { ensureRunSchema } from '../../src/billing/run/schema.js';
import { ensureVouchersSchema } from '../../src/vouchers/schema.js';
import { ensureMoneyInSchemas, harness, type Harness } from '../payments/support.js';
import type { RedisClient } from '../support/redis.js';

export { newAccount, mainNano, snapshot } from '../payments/support.js';

/** The keys the harness's app hashes and seals with, so a test can call the services beside it. */
export const TEST_KEYS = voucherKeys(randomBytes(32));

export const VOUCHER_TABLES = ['voucher_batches', 'vouchers', 'events'];

export async function voucherHarness(
  pool: pg.Pool,
  schema: string,
  redis: RedisClient,
  prefix: string,
  now?: () => number,
) {
  await ensureMoneyInSchemas(pool, schema, [
    () => ensureRunSchema(pool, schema),
    () => ensurePlansSchema(pool, schema),
    () => ensureVouchersSchema(pool, schema),
  ]);
  return harness({
    redis,
    prefix,
    vouchers: { pool, schema, plans: true, keys: TEST_KEYS },
    ...(now ? { now } : {}),
  });
}

export const IN_A_YEAR = new Date(Date.now() + 365 * 86_400_000).toISOString();

/** A batch made by `tenant`'s billing key; answers its id and its PINs by serial (the one download). */
export async function batchWithPins(h: Harness, tenant: string, body: Record<string, unknown>) {
  const made = await h.call(`${tenant}-billing`, 'POST', '/v1/voucher-batches', {
    expiresAt: IN_A_YEAR,
    ...body,
  });
  if (made.statusCode !== 201) throw new Error(`batch: ${made.statusCode} ${made.body}`);
  const batchId = made.json<{ batchId: string }>().batchId;
  const csv = await h.call(`${tenant}-billing`, 'GET', `/v1/voucher-batches/${batchId}/pins.csv`);
  if (csv.statusCode !== 200) throw new Error(`pins: ${csv.statusCode} ${csv.body}`);
  const pins = csv.body
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(',') as [string, string]);
  return { batchId, pins };
}
