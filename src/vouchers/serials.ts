/** One voucher by its serial, for billing staff: its status (never a PIN), and blocking it. */
import { presentValue, valueOf } from './batch-rows.js';
import type { VoucherDeps } from './deps.js';
import { VoucherError } from './errors.js';
import { voucherBySerial, type VoucherWithValue } from './voucher-rows.js';

/** What a voucher is now: `expired` and a blocked batch are read from its batch. */
function statusOf(v: VoucherWithValue, nowMs: number) {
  if (v.status !== 'active') return v.status;
  if (v.batch_status === 'blocked') return 'blocked';
  if (v.batch_status === 'generating') return 'generating';
  if (v.expires_at.getTime() <= nowMs) return 'expired';
  if (v.valid_from.getTime() > nowMs) return 'not_yet_valid';
  return 'active';
}

function present(v: VoucherWithValue, nowMs: number) {
  return {
    serial: v.serial,
    batchId: v.batch_id,
    status: statusOf(v, nowMs),
    value: presentValue(valueOf(v)),
    validFrom: v.valid_from.toISOString(),
    expiresAt: v.expires_at.toISOString(),
    accountId: v.account_id,
    reference: v.reference,
    redeemedAt: v.redeemed_at?.toISOString() ?? null,
  };
}

export async function getVoucher(deps: VoucherDeps, tenant: string, serial: string) {
  const v = await voucherBySerial(deps.pool, deps.schema, tenant, serial);
  if (!v) throw new VoucherError('NOT_FOUND', `no voucher ${serial}`);
  return present(v, deps.now());
}

/** Blocks an unredeemed voucher or unblocks a blocked one; a redeemed one stays as it is (409). */
export async function setVoucherBlocked(deps: VoucherDeps, tenant: string, serial: string, blocked: boolean) {
  const [from, to] = blocked ? ['active', 'blocked'] : ['blocked', 'active'];
  const r = await deps.pool.query(
    `UPDATE ${deps.schema}.vouchers SET status = $4 WHERE tenant = $1 AND serial = $2 AND status IN ($3, $4)`,
    [tenant, serial, from, to],
  );
  if (r.rowCount === 0) {
    const v = await voucherBySerial(deps.pool, deps.schema, tenant, serial);
    if (!v) throw new VoucherError('NOT_FOUND', `no voucher ${serial}`);
    throw new VoucherError(
      'VOUCHER_REDEEMED',
      `voucher ${serial} is ${v.status}: it cannot be blocked or unblocked`,
    );
  }
  return getVoucher(deps, tenant, serial);
}
