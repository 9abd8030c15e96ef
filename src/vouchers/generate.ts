/**
 * Writing a batch's vouchers: in one transaction, the batch row locked (`generating`), every
 * voucher's serial and PIN hash COPYed in, the batch made `active`. A crash leaves nothing half
 * written (the transaction rolls back) and the batch `generating`, which `repairBatches` generates
 * again at start; the row lock keeps two engines from generating one batch twice. A PIN whose hash
 * is already stored (another batch's, or a repeat inside this one: ~5·10⁻⁵ for a million) breaks the
 * unique index; the batch is then drawn again from a new seed.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction } from '../billing/documents/transaction.js';
import { batchById } from './batch-rows.js';
import type { VoucherDeps } from './deps.js';
import { pinHash } from './keys.js';
import { pinsAt, serialOf } from './pins.js';

const CHUNK = 5_000;
const ATTEMPTS = 4;

/** COPY text field escaping (tenant ids are plain, but a tab must never shift a column). */
const field = (s: string) =>
  s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);

function* rows(
  deps: VoucherDeps,
  tenant: string,
  batchId: string,
  prefix: string,
  seed: Buffer,
  count: number,
) {
  const t = field(tenant);
  for (let from = 0; from < count; from += CHUNK) {
    const n = Math.min(CHUNK, count - from);
    const pins = pinsAt(seed, from, n);
    let text = '';
    for (let i = 0; i < n; i++) {
      const hash = pinHash(deps.keys.pinKey, tenant, pins[i]!).toString('hex');
      text += `${t}\t${serialOf(prefix, from + i)}\t${batchId}\t\\\\x${hash}\n`;
    }
    yield text;
  }
}

async function copyVouchers(
  c: PoolClient,
  deps: VoucherDeps,
  b: { tenant: string; id: string; prefix: string; count: number },
  seed: Buffer,
) {
  const copy = c.query(
    copyFrom(`COPY ${deps.schema}.vouchers (tenant, serial, batch_id, pin_hash) FROM STDIN`),
  );
  await pipeline(Readable.from(rows(deps, b.tenant, b.id, b.prefix, seed, b.count)), copy);
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * Generates a `generating` batch (a batch in any other status is left as it is). `skipLocked`: leave
 * a batch another engine is generating right now (repair), rather than wait for it.
 */
export async function generateBatch(
  deps: VoucherDeps,
  tenant: string,
  batchId: string,
  skipLocked = false,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await inTransaction(deps.pool, async (c) => {
        const b = await batchById(c, deps.schema, tenant, batchId, skipLocked ? 'skip' : true);
        if (!b || b.status !== 'generating' || !b.pin_seed) return;
        let seed = Buffer.from(deps.keys.seedBox.open(b.pin_seed, b.id), 'hex');
        if (attempt > 0) {
          seed = randomBytes(32);
          await c.query(`UPDATE ${deps.schema}.voucher_batches SET pin_seed = $2 WHERE id = $1`, [
            b.id,
            deps.keys.seedBox.seal(seed.toString('hex'), b.id),
          ]);
        }
        await copyVouchers(c, deps, { tenant, id: b.id, prefix: b.serial_prefix, count: b.count }, seed);
        await c.query(`UPDATE ${deps.schema}.voucher_batches SET status = 'active' WHERE id = $1`, [b.id]);
      });
      return;
    } catch (err) {
      if (!isUniqueViolation(err) || attempt + 1 >= ATTEMPTS) throw err;
    }
  }
}

/** Generates the batches a stopped engine left `generating`; answers how many it looked at. */
export async function repairBatches(deps: VoucherDeps): Promise<number> {
  const r = await deps.pool.query<{ tenant: string; id: string }>(
    `SELECT tenant, id FROM ${deps.schema}.voucher_batches WHERE status = 'generating' ORDER BY created_at LIMIT 100`,
  );
  for (const b of r.rows) await generateBatch(deps, b.tenant, b.id, true);
  return r.rows.length;
}
