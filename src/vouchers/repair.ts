/**
 * What a stopped engine left half done: batches `generating` (none is being generated: the row lock
 * says so) and redemptions `redeeming` for over a minute. Run at start and every minute (main.ts):
 * with several engines, the one that stopped may not be the one that starts.
 */
import type { VoucherDeps } from './deps.js';
import { repairBatches } from './generate.js';
import { repairRedemptions } from './redeem.js';

export const STALE_CLAIM_MS = 60_000;

export async function repairVouchers(
  deps: VoucherDeps,
  olderThanMs = STALE_CLAIM_MS,
): Promise<{ batches: number; redemptions: number }> {
  const redemptions = await repairRedemptions(deps, olderThanMs);
  const batches = await repairBatches(deps);
  return { batches, redemptions };
}
