/** What a stopped engine left half done, finished at start: batches `generating`, redemptions `redeeming`. */
import type { VoucherDeps } from './deps.js';
import { repairBatches } from './generate.js';
import { repairRedemptions } from './redeem.js';

export async function repairVouchers(deps: VoucherDeps): Promise<{ batches: number; redemptions: number }> {
  const redemptions = await repairRedemptions(deps);
  const batches = await repairBatches(deps);
  return { batches, redemptions };
}
