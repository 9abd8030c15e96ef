/**
 * A batch's PINs, once: one statement takes the sealed seed and erases it, so a second download (or
 * two at once) finds none and answers 410. The CSV is drawn from the seed as it is sent; if the
 * connection breaks meanwhile the PINs are lost with it — block the batch and make another.
 */
import { batchById } from './batch-rows.js';
import type { VoucherDeps } from './deps.js';
import { VoucherError } from './errors.js';
import { pinsAt, serialOf } from './pins.js';

const CHUNK = 5_000;

function* csv(seed: Buffer, prefix: string, count: number) {
  yield 'serial,pin\n';
  for (let from = 0; from < count; from += CHUNK) {
    const pins = pinsAt(seed, from, Math.min(CHUNK, count - from));
    yield pins.map((pin, i) => `${serialOf(prefix, from + i)},${pin}\n`).join('');
  }
}

/** The CSV's chunks (serial,pin), or a refusal: 404, 409 while generating, 410 once taken. */
export async function takePins(deps: VoucherDeps, tenant: string, id: string) {
  const r = await deps.pool.query<{ pin_seed: Buffer; serial_prefix: string; count: number }>(
    `WITH old AS (SELECT id, pin_seed FROM ${deps.schema}.voucher_batches
        WHERE tenant = $1 AND id = $2 AND status <> 'generating' AND pin_seed IS NOT NULL FOR UPDATE)
     UPDATE ${deps.schema}.voucher_batches b SET pin_seed = NULL, pins_downloaded_at = now()
       FROM old WHERE b.id = old.id RETURNING old.pin_seed, b.serial_prefix, b.count`,
    [tenant, id],
  );
  const row = r.rows[0];
  if (!row) {
    const b = await batchById(deps.pool, deps.schema, tenant, id);
    if (!b) throw new VoucherError('NOT_FOUND', `no voucher batch ${id}`);
    if (b.status === 'generating')
      throw new VoucherError('VOUCHER_BATCH_GENERATING', 'the batch is still being generated; ask again');
    throw new VoucherError(
      'GONE',
      `the PINs were downloaded at ${b.pins_downloaded_at?.toISOString()} and are not kept`,
    );
  }
  const seed = Buffer.from(deps.keys.seedBox.open(row.pin_seed, id), 'hex');
  return csv(seed, row.serial_prefix, row.count);
}
