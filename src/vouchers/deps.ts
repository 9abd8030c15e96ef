/** What the voucher services and routes are built from (src/main.ts wires them). */
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import type { PlansDeps } from '../billing/plans/db.js';
import type { RedisClient } from '../infra/redis.js';
import type { VoucherKeys } from './keys.js';

export interface VoucherDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  /** Failed-redemption counters live here (attempts.ts), under `keyPrefix`. */
  redis: RedisClient;
  keyPrefix: string;
  keys: VoucherKeys;
  /** Plan vouchers assign through the plans module; without it a plan batch is refused. */
  plans?: PlansDeps;
  /** The clock (epoch ms), passed in so tests can expire a batch. */
  now: () => number;
  /** Where a batch generated in the background reports a failure. */
  log?: { error(obj: object, msg: string): void };
}
