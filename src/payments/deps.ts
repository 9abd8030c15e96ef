/** What the payment service and routes are built from (src/main.ts wires them). */
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';

export interface PaymentDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  /** The clock (epoch ms) that judges what is overdue when a payment reactivates; Date.now if absent. */
  now?: () => number;
}
