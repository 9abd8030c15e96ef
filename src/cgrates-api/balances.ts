/**
 * APIerSv1.AddBalance, DebitBalance, SetBalance, RemoveBalances on the balance store's
 * provisioning functions (the ones /v1/accounts/:id/balances, /credits and /debits call).
 * Everything is read and checked before the first write, so a refused call changes nothing.
 *
 * Idempotency (docs/CGRATES-COMPAT.md): CGRateS's calls carry no operation id, and CGRateS applies
 * a retried AddBalance twice; so does this facade, unless the caller puts a `Reference` in
 * ActionExtraData (an extension). Then every write's op id is derived from it: a retry gets the
 * first answer and moves nothing, the same Reference on another body is refused with EXISTS.
 */
import type { NewBalance } from '../balances/provisioning.js';
import type { BalanceUnit } from '../balances/model.js';
import type { OpResult } from '../balances/snapshot.js';
import { CgrError, NOT_FOUND, notImplemented, unsupportedFormat } from './errors.js';
import { floatToNano, floatToScaled } from './money.js';
import { expiryOf, fields, idList, requireFields, type Obj } from './params.js';
import { BALANCE_TYPES } from './shapes.js';
import { accountOf, ensureAccount, storeError } from './accounts.js';
import type { CgrContext } from './context.js';

export interface BalanceCall {
  tenant: string;
  account: string;
  unit: BalanceUnit;
  /** Base units (nano for money), signed. */
  amount: number;
  /** The balance's ID ('' when the call names none). */
  id: string;
  meta: Omit<NewBalance, 'id' | 'unit' | 'value'>;
  /** The expiry was given relative to now (+720h): a retry computes another instant. */
  relativeExpiry: boolean;
  opId: string;
}

/** Voice is nanoseconds in both; data bytes, sms and generic units: whole numbers. */
function amountOf(unit: BalanceUnit, v: number): number {
  return unit === 'money' ? floatToNano(v, 'Value') : floatToScaled(v, 0, 'Value');
}

function balanceMeta(b: Obj, now: number): BalanceCall['meta'] {
  const f = fields(b, 'Balance');
  if (f.bool('Disabled')) throw notImplemented('Balance.Disabled');
  if (f.str('SharedGroups') || f.str('TimingIDs'))
    throw notImplemented('Balance.SharedGroups, Balance.TimingIDs');
  return {
    weight: f.num('Weight'),
    expiryMs: expiryOf(f.str('ExpiryTime'), now),
    destinations: idList(f.str('DestinationIDs'), 'DestinationIDs'),
    categories: idList(f.str('Categories'), 'Categories'),
    ratingSubject: f.str('RatingSubject'),
    blocker: f.bool('Blocker'),
  };
}

/** The caller's Reference (ActionExtraData.Reference), or '' for none. */
export function referenceOf(extra: Obj): string {
  const ref = extra.Reference;
  if (ref === undefined || ref === null || ref === '') return '';
  if (typeof ref !== 'string' || ref.length > 200)
    throw unsupportedFormat('ActionExtraData.Reference must be a string of at most 200 characters');
  return ref;
}

/** AttrAddBalance / AttrSetBalance read and checked whole. */
function readCall(arg: Obj, struct: string, method: string, c: CgrContext): BalanceCall {
  const f = fields(arg, struct);
  const tenant = c.tenantOf(f.str('Tenant'));
  const account = f.str('Account');
  const type = f.str('BalanceType');
  const value = f.num('Value');
  const balance = f.obj('Balance');
  const ref = referenceOf(f.obj('ActionExtraData'));
  requireFields(arg, ['Account', 'BalanceType']);
  if (f.bool('Overwrite')) throw notImplemented('Overwrite (use SetBalance)');
  const unit = BALANCE_TYPES[type];
  if (!unit) throw unsupportedFormat(`BalanceType ${type}`);
  const b = fields(balance, 'Balance');
  const meta = balanceMeta(balance, c.now());
  return {
    tenant,
    account,
    unit,
    amount: amountOf(unit, value),
    id: b.str('ID') || b.str('Uuid'),
    meta,
    relativeExpiry: b.str('ExpiryTime').startsWith('+'),
    opId: `cgr:${method}:${ref || c.newId()}`,
  };
}

/**
 * Adds the balance with the whole amount, or (it exists) credits it: each under its own op id,
 * so a retry replays whichever wrote. A create refused with BALANCE_EXISTS wrote nothing.
 */
export async function topUp(c: CgrContext, k: BalanceCall): Promise<void> {
  const id = k.id || '*default';
  const add = { id, unit: k.unit, value: k.amount, ...k.meta };
  const created = await c.balances.addBalance(k.tenant, k.account, add, `${k.opId}:new`);
  if (created.code === 'OK') return;
  const existing = (await accountOf(c, k.tenant, k.account)).balances.find((b) => b.id === id);
  // A retry of a creating call with a relative expiry: the first one created it; nothing more to do.
  if (created.code === 'CONFLICT' && k.relativeExpiry && existing?.unit === k.unit) return;
  if (created.code !== 'BALANCE_EXISTS') throw storeError(created);
  if (existing && existing.unit !== k.unit) throw unsupportedFormat(`balance ${id} is not of type ${k.unit}`);
  if (k.amount === 0) return;
  const r = await c.balances.credit(k.tenant, k.account, {
    opId: k.opId,
    balanceId: id,
    amount: k.amount,
    kind: 'topup',
    shared: existing?.shared ?? false,
  });
  if (r.code !== 'OK') throw storeError(r);
}

/** Money off the account, in the engine's paying order (CGRateS takes it off the named balance). */
export async function takeMoney(c: CgrContext, k: BalanceCall, amountNano: number) {
  if (k.unit !== 'money') throw notImplemented(`debiting a ${k.unit} balance`);
  const r = await c.balances.debit(k.tenant, k.account, {
    opId: k.opId,
    kind: 'adjust',
    charge: { unit: 'generic', units: 0, amountNano },
  });
  if (r.code !== 'OK') throw storeError(r);
}

/** RemoveBalances: the account's balances of that type, or the one with that ID. */
async function removeBalances(c: CgrContext, k: BalanceCall): Promise<void> {
  const view = await accountOf(c, k.tenant, k.account);
  const doomed = view.balances.filter((b) => b.unit === k.unit && (k.id === '' || b.id === k.id));
  if (!doomed.length) throw new CgrError(NOT_FOUND);
  const results: OpResult[] = [];
  for (const b of doomed)
    results.push(await c.balances.removeBalance(k.tenant, k.account, b.id, `${k.opId}:${b.id}`, b.shared));
  const failed = results.find((r) => r.code !== 'OK');
  if (failed) throw storeError(failed);
}

export const balanceMethods = {
  /** Tops up the balance with that ID, or adds it; a missing account is created (as CGRateS does). */
  async 'APIerSv1.AddBalance'(arg: Obj, c: CgrContext) {
    const k = readCall(arg, 'AttrAddBalance', 'addbalance', c);
    if (k.amount < 0) {
      await takeMoney(c, k, -k.amount);
      return 'OK';
    }
    await ensureAccount(c, k.tenant, k.account);
    await topUp(c, k);
    return 'OK';
  },

  async 'APIerSv1.DebitBalance'(arg: Obj, c: CgrContext) {
    const k = readCall(arg, 'AttrAddBalance', 'debitbalance', c);
    if (k.amount <= 0) throw notImplemented('a DebitBalance Value of 0 or less');
    await accountOf(c, k.tenant, k.account);
    await takeMoney(c, k, k.amount);
    return 'OK';
  },

  /** Creates a balance that does not exist yet; changing an existing one's value: not yet. */
  async 'APIerSv1.SetBalance'(arg: Obj, c: CgrContext) {
    const k = readCall(arg, 'AttrSetBalance', 'setbalance', c);
    if (k.amount < 0) throw notImplemented('a negative Value');
    await ensureAccount(c, k.tenant, k.account);
    const existing = (await accountOf(c, k.tenant, k.account)).balances.find(
      (b) => b.id === (k.id || '*default'),
    );
    if (existing) {
      if (existing.unit === k.unit && existing.value === k.amount) return 'OK';
      throw notImplemented("SetBalance on an existing balance's value (use AddBalance or DebitBalance)");
    }
    await topUp(c, k);
    return 'OK';
  },

  async 'APIerSv1.RemoveBalances'(arg: Obj, c: CgrContext) {
    const k = readCall(arg, 'AttrSetBalance', 'removebalances', c);
    await removeBalances(c, k);
    return 'OK';
  },
};

/** The same methods under APIerSv2 where CGRateS has them (same argument shapes). */
export const balanceMethodsV2 = {
  'APIerSv2.SetBalance': balanceMethods['APIerSv1.SetBalance'],
};
