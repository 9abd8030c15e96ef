/**
 * The dunning job (a periodic job in main.ts): overdue reminders, then suspensions and
 * reactivations. It reads invoices and account status only, so it is safe on several engines at
 * once (see reminders.ts and suspensions.ts for why each change happens once).
 */
import { remindOverdue } from './reminders.js';
import { suspendAndReactivate, type DunningDeps } from './suspensions.js';

export type { DunningDeps } from './suspensions.js';

export async function dunningOnce(
  d: DunningDeps,
): Promise<{ reminders: number; suspended: number; reactivated: number }> {
  const reminders = await remindOverdue(d.pool, d.schema, d.now());
  return { reminders, ...(await suspendAndReactivate(d)) };
}
