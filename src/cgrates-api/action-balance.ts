/**
 * What CGRateS's `*topup_reset`, `*debit_reset`, `*reset_account` and `*set_expiry` do to balances,
 * on the balance store's provisioning functions (the ones /v1/accounts/:id/balances and /credits
 * call), each write under an op id derived from the action's, so a retry replays it.
 *
 * The store has no "set the value" script: a balance is set to a target by creating it with the
 * target, or (it exists) crediting the difference up, or removing it and creating it again with its
 * own settings and the target (the ledger records both: what left, what came). A balance an open
 * session holds part of is not lowered (checked before the first write of the whole profile).
 */
import type { BalanceUnit } from '../balances/model.js';
import type { NewBalance } from '../balances/provisioning.js';
import type { SnapshotBalance } from '../balances/snapshot.js';
import type { StoredAction } from './actions-store.js';
import { accountOf, storeError } from './accounts.js';
import type { CgrContext } from './context.js';
import { notImplemented, unsupportedFormat } from './errors.js';
import { expiryOf } from './params.js';

type View = Awaited<ReturnType<typeof accountOf>>;

/** The balance a reset names (CGRateS creates `*default` when the action names none). */
export const resetId = (a: StoredAction) => a.balanceId || '*default';

/** The balance settings an action names (weight, expiry, destinations, …), as the store takes them. */
export function balanceMeta(c: CgrContext, a: StoredAction) {
  return {
    weight: a.balanceWeight,
    expiryMs: expiryOf(a.expiry, c.now()),
    destinations: a.destinations,
    categories: a.categories,
    ratingSubject: a.ratingSubject,
    blocker: a.blocker,
  };
}

/** The account's own balances `*reset_account` sets to zero (a shared group's are the group's). */
export const ownBalances = (v: View) => v.balances.filter((b) => b.scope === 'a');

/** Throws when the reset cannot be done exactly on this account (before anything is written). */
export function checkReset(v: View, id: string, unit: string, target: number): void {
  const b = v.balances.find((x) => x.id === id);
  if (!b) return;
  if (b.unit !== unit) throw unsupportedFormat(`balance ${id} is not of type ${unit}`);
  if (b.held > 0 && target < b.value)
    throw notImplemented(`lowering balance ${id} while an open session holds part of it`);
}

/** Sets one existing balance to `target` exactly. */
async function setExisting(
  c: CgrContext,
  tenant: string,
  account: string,
  b: SnapshotBalance,
  target: number,
  opId: string,
) {
  const shared = b.scope === 'g';
  if (target > b.value) {
    const r = await c.balances.credit(tenant, account, {
      opId: `${opId}:up`,
      balanceId: b.id,
      amount: target - b.value,
      kind: 'adjust',
      shared,
      // The target, not the difference, is the request: a replay finds its first answer.
      fingerprint: `reset:${b.id}:${target}`,
    });
    if (r.code !== 'OK' && r.code !== 'CONFLICT') throw storeError(r);
    return;
  }
  const rm = await c.balances.removeBalance(tenant, account, b.id, `${opId}:rm`, shared);
  if (rm.code !== 'OK' && rm.code !== 'CONFLICT') throw storeError(rm);
  const { id, value: _v, held: _h, scope: _s, unitIncrement: _u, ...meta } = b;
  const add = await c.balances.addBalance(tenant, account, { ...meta, id, value: target }, `${opId}:new`);
  if (add.code !== 'OK' && add.code !== 'CONFLICT') throw storeError(add);
}

/** A balance a reset creates when missing: its id, unit and settings. */
export interface ResetBalance {
  id: string;
  unit: BalanceUnit;
  meta: Omit<NewBalance, 'id' | 'unit' | 'value'>;
}

/**
 * Sets the balance to `target`: created with it and `b`'s settings when missing (true), else set
 * to it (false), after `checkReset` (nothing written when refused). A CONFLICT on the create's op id
 * means it ran before. The one implementation of `*topup_reset`, `*debit_reset` and SetBalance.
 */
export async function setBalanceTo(
  c: CgrContext,
  tenant: string,
  account: string,
  b: ResetBalance,
  target: number,
  opId: string,
): Promise<boolean> {
  const add = await c.balances.addBalance(
    tenant,
    account,
    { id: b.id, unit: b.unit, value: target, ...b.meta },
    `${opId}:new`,
  );
  if (add.code === 'OK' || add.code === 'CONFLICT') return true;
  if (add.code !== 'BALANCE_EXISTS') throw storeError(add);
  const v = await accountOf(c, tenant, account);
  checkReset(v, b.id, b.unit, target);
  const existing = v.balances.find((x) => x.id === b.id)!;
  if (existing.value !== target) await setExisting(c, tenant, account, existing, target, opId);
  return false;
}

/** `*topup_reset` / `*debit_reset` (to 0) of one balance, with the action's settings. */
export async function resetBalance(
  c: CgrContext,
  tenant: string,
  account: string,
  a: StoredAction,
  target: number,
  opId: string,
) {
  await setBalanceTo(
    c,
    tenant,
    account,
    { id: resetId(a), unit: a.unit!, meta: balanceMeta(c, a) },
    target,
    opId,
  );
}

/**
 * `*reset_account`: every balance of the account's own set to zero (CGRateS replaces each type's
 * balances by one of value 0; here they stay, at 0). A retry after a crash between a removal and
 * its re-creation leaves that balance out: its value is 0 either way.
 */
export async function resetAccount(c: CgrContext, tenant: string, account: string, opId: string) {
  for (const b of ownBalances(await accountOf(c, tenant, account)))
    if (b.value !== 0) await setExisting(c, tenant, account, b, 0, `${opId}:${b.id}`);
}

/** `*set_expiry`: the expiry of the named balance, or of every balance of the type, set. */
export async function setExpiry(
  c: CgrContext,
  tenant: string,
  account: string,
  a: StoredAction,
  opId: string,
) {
  const expiryMs = expiryOf(a.expiry, c.now());
  const v = await accountOf(c, tenant, account);
  const matching = v.balances.filter((b) => b.unit === a.unit && (!a.balanceId || b.id === a.balanceId));
  for (const b of matching) {
    if (b.expiryMs === expiryMs) continue;
    const r = await c.balances.updateBalance(tenant, account, b.id, { expiryMs }, `${opId}:${b.id}`);
    // CONFLICT: this op id ran before (a relative expiry computed again differs).
    if (r.code !== 'OK' && r.code !== 'CONFLICT') throw storeError(r);
  }
}
