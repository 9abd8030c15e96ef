/**
 * Voucher batches (docs/VOUCHERS.md): created once per `reference` (the same body again answers the
 * batch, another body 409), generated at once up to 10,000 vouchers and in the background beyond
 * (`generating` until then); PINs handed out once as CSV; a batch blocked and unblocked as a whole.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { MoneyFormatError, parseMoney } from '../billing/core/currency.js';
import { cursorOf, parseCursor } from '../billing/documents/read.js';
import { getPlan } from '../billing/plans/catalog.js';
import { requestHash } from '../billing/plans/db.js';
import {
  batchById,
  batchByReference,
  presentBatch,
  presentValue,
  type BatchRow,
  type VoucherValue,
} from './batch-rows.js';
import type { VoucherDeps } from './deps.js';
import { invalid, VoucherError } from './errors.js';
import { generateBatch } from './generate.js';
import { prefixOf } from './pins.js';

export const MAX_BATCH = 1_000_000;
/** Up to this many vouchers the request waits for them; a larger batch is generated in the background. */
export const SYNC_LIMIT = 10_000;

export interface BatchRequest {
  reference: string;
  count: number;
  value: { amount: string; currency: string } | { plan: string; version?: number };
  expiresAt: string;
  validFrom?: string;
}

type Value = { amountNano: bigint; currency: string } | { plan: string; version: number };

const valueOfRequest = (v: Value): VoucherValue =>
  'plan' in v ? { type: 'plan', ...v } : { type: 'money', ...v };

async function checkedValue(deps: VoucherDeps, tenant: string, v: BatchRequest['value']): Promise<Value> {
  if ('plan' in v) {
    if (!deps.plans) throw invalid('/value/plan', 'plan vouchers are not enabled on this engine');
    const plan = await getPlan(deps.pool, deps.schema, tenant, v.plan, v.version);
    return { plan: plan.code, version: plan.version };
  }
  let nano: bigint;
  try {
    nano = parseMoney(v.amount, v.currency);
  } catch (err) {
    throw invalid('/value/amount', err instanceof MoneyFormatError ? err.message : 'not an amount');
  }
  if (nano <= 0n) throw invalid('/value/amount', 'must be more than 0');
  if (nano > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('/value/amount', 'at most 9007199.254740991');
  return { amountNano: nano, currency: v.currency };
}

function checkedWindow(req: BatchRequest, nowMs: number) {
  const validFrom = req.validFrom ? Date.parse(req.validFrom) : nowMs;
  const expiresAt = Date.parse(req.expiresAt);
  if (Number.isNaN(validFrom)) throw invalid('/validFrom', 'not a date-time');
  if (Number.isNaN(expiresAt)) throw invalid('/expiresAt', 'not a date-time');
  if (expiresAt <= nowMs) throw invalid('/expiresAt', 'must be in the future');
  if (expiresAt <= validFrom) throw invalid('/expiresAt', 'must be after validFrom');
  return { validFrom: new Date(validFrom), expiresAt: new Date(expiresAt) };
}

async function replay(deps: VoucherDeps, old: BatchRow, hash: string) {
  if (old.request_hash !== hash)
    throw new VoucherError('CONFLICT', `reference ${old.reference} was used for another batch`);
  return { batch: await presentBatch(deps.pool, deps.schema, old), replayed: true };
}

async function insertBatch(
  deps: VoucherDeps,
  tenant: string,
  req: BatchRequest,
  hash: string,
  value: Value,
  window: ReturnType<typeof checkedWindow>,
) {
  for (let attempt = 0; ; attempt++) {
    const id = randomUUID();
    const sealed = deps.keys.seedBox.seal(randomBytes(32).toString('hex'), id);
    try {
      const r = await deps.pool.query(
        `INSERT INTO ${deps.schema}.voucher_batches (id, tenant, reference, request_hash, serial_prefix, count,
           amount_nano, currency, plan_code, plan_version, valid_from, expires_at, status, pin_seed, value_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'generating', $13, $14)
         ON CONFLICT (tenant, reference) DO NOTHING RETURNING id`,
        [
          id,
          tenant,
          req.reference,
          hash,
          prefixOf(randomBytes(5)),
          req.count,
          'amountNano' in value ? value.amountNano.toString() : null,
          'amountNano' in value ? value.currency : null,
          'plan' in value ? value.plan : null,
          'plan' in value ? value.version : null,
          window.validFrom,
          window.expiresAt,
          sealed,
          JSON.stringify(presentValue(valueOfRequest(value))),
        ],
      );
      return r.rowCount === 0 ? null : id;
    } catch (err) {
      // Another batch of the tenant drew the same serial prefix (1 in 2^40): draw again.
      if ((err as { code?: string }).code !== '23505' || attempt >= 3) throw err;
    }
  }
}

export async function createBatch(deps: VoucherDeps, tenant: string, req: BatchRequest) {
  const hash = requestHash(req);
  const old = await batchByReference(deps.pool, deps.schema, tenant, req.reference);
  if (old) return replay(deps, old, hash);
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_BATCH)
    throw invalid('/count', `must be from 1 to ${MAX_BATCH}`);
  const window = checkedWindow(req, deps.now());
  const value = await checkedValue(deps, tenant, req.value);
  const id = await insertBatch(deps, tenant, req, hash, value, window);
  if (id === null)
    return replay(deps, (await batchByReference(deps.pool, deps.schema, tenant, req.reference))!, hash);
  if (req.count <= SYNC_LIMIT) await generateBatch(deps, tenant, id);
  else
    void generateBatch(deps, tenant, id).catch((err: unknown) =>
      deps.log?.error(
        { err, batchId: id },
        'voucher batch generation failed; it is retried at the next start',
      ),
    );
  const row = (await batchById(deps.pool, deps.schema, tenant, id))!;
  return { batch: await presentBatch(deps.pool, deps.schema, row), replayed: false };
}

export async function getBatch(deps: VoucherDeps, tenant: string, id: string) {
  const b = await batchById(deps.pool, deps.schema, tenant, id);
  if (!b) throw new VoucherError('NOT_FOUND', `no voucher batch ${id}`);
  return presentBatch(deps.pool, deps.schema, b);
}

/** Blocks (or unblocks) the batch: its unredeemed vouchers stop (or start again) redeeming. */
export async function setBatchBlocked(deps: VoucherDeps, tenant: string, id: string, blocked: boolean) {
  const b = await batchById(deps.pool, deps.schema, tenant, id);
  if (!b) throw new VoucherError('NOT_FOUND', `no voucher batch ${id}`);
  if (b.status === 'generating')
    throw new VoucherError('VOUCHER_BATCH_GENERATING', 'the batch is still being generated');
  await deps.pool.query(
    `UPDATE ${deps.schema}.voucher_batches SET status = $3 WHERE tenant = $1 AND id = $2 AND status <> 'generating'`,
    [tenant, id, blocked ? 'blocked' : 'active'],
  );
  return getBatch(deps, tenant, id);
}

/**
 * The tenant's batches, oldest first, keyset on (created_at, id) like the invoices' list: a page
 * never repeats or skips a batch. Each as getBatch shows it (counts by status included).
 */
export async function listBatches(deps: VoucherDeps, tenant: string, q: { cursor?: string; limit: number }) {
  const after = q.cursor === undefined ? undefined : parseCursor(q.cursor);
  if (q.cursor !== undefined && !after) throw invalid('/cursor', 'not a cursor this list gave');
  const r = await deps.pool.query<BatchRow & { micros: string }>(
    `SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS micros
       FROM ${deps.schema}.voucher_batches
      WHERE tenant = $1 AND ($2::text IS NULL
            OR (created_at, id) > (to_timestamp($2::numeric / 1000000), $3::uuid))
      ORDER BY created_at, id LIMIT $4`,
    [tenant, after?.[0] ?? null, after?.[1] ?? null, q.limit + 1],
  );
  const page = r.rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const batches = [];
  for (const b of page) batches.push(await presentBatch(deps.pool, deps.schema, b));
  return { batches, nextCursor: r.rows.length > q.limit && last ? cursorOf(last.micros, last.id) : null };
}
