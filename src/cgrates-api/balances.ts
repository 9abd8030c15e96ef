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
import { setBalanceTo } from './action-balance.js';
import { oncePerReference, runKey } from './run-once.js';
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
  /** The settings the call's Balance names (SetBalance changes only those on an existing balance). */
  given?: Partial<BalanceCall['meta']>;
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

/** Balance's fields and the settings they are: the ones SetBalance can change on a balance. */
const SETTINGS = {
  Weight: 'weight',
  ExpiryTime: 'expiryMs',
  DestinationIDs: 'destinations',
  Categories: 'categories',
  RatingSubject: 'ratingSubject',
  Blocker: 'blocker',
} as const;

/** The settings the Balance object names (a field absent or null names none). */
function givenOf(b: Obj, meta: BalanceCall['meta']): Partial<BalanceCall['meta']> {
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(SETTINGS))
    if (b[field] !== undefined && b[field] !== null) out[key] = meta[key];
  return out as Partial<BalanceCall['meta']>;
}

/** A call as read, with what SetBalance's path needs beside it. */
type SetCall = BalanceCall & {
  overwrite: boolean;
  reference: string;
  method: string;
  /** Balance.ExpiryTime as sent (a relative one is fingerprinted as such, not as an instant). */
  expiry: string;
};

/** The caller's Reference (ActionExtraData.Reference), or '' for none. */
export function referenceOf(extra: Obj): string {
  const ref = extra.Reference;
  if (ref === undefined || ref === null || ref === '') return '';
  if (typeof ref !== 'string' || ref.length > 200)
    throw unsupportedFormat('ActionExtraData.Reference must be a string of at most 200 characters');
  return ref;
}

/**
 * AttrAddBalance / AttrSetBalance read and checked whole. `overwrite`: the call is AddBalance's
 * Overwrite (a set, not an add), answered by the caller; elsewhere it is refused.
 */
function readCall(arg: Obj, struct: string, method: string, c: CgrContext): SetCall {
  const f = fields(arg, struct);
  const tenant = c.tenantOf(f.str('Tenant'));
  const account = f.str('Account');
  const type = f.str('BalanceType');
  const value = f.num('Value');
  const balance = f.obj('Balance');
  const ref = referenceOf(f.obj('ActionExtraData'));
  requireFields(arg, ['Account', 'BalanceType']);
  const overwrite = f.bool('Overwrite');
  if (overwrite && method !== 'addbalance') throw notImplemented(`Overwrite on ${struct}`);
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
    given: givenOf(balance, meta),
    overwrite,
    reference: ref,
    method,
    expiry: b.str('ExpiryTime'),
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

/**
 * SetBalance, and AddBalance with Overwrite: the balance set to the Value on `*topup_reset`'s path
 * (action-balance.ts: created, credited up, or removed and created again at it; refused, nothing
 * written, when an open session holds part of it), then the settings the call names changed on an
 * existing one (`*set_expiry`'s path: updateBalance). Each write's op id derives from the call's.
 */
async function setBalance(c: CgrContext, k: SetCall): Promise<void> {
  if (k.amount < 0) throw notImplemented('a negative Value');
  // Once per Reference (run-once.ts): a replay after the balance moved (spent, topped up) must not
  // set it again, and another body under the Reference is EXISTS.
  await oncePerReference(c, setRunKey(k), async (wrote) => {
    await ensureAccount(c, k.tenant, k.account);
    const id = k.id || '*default';
    const target = { id, unit: k.unit, meta: k.meta };
    // Refused (checkReset, a balance of another type) before it writes; the account created
    // above is no part of the body (its op id is the account's own).
    const created = await setBalanceTo(c, k.tenant, k.account, target, k.amount, k.opId);
    wrote();
    if (!created && k.given && Object.keys(k.given).length) {
      const r = await c.balances.updateBalance(k.tenant, k.account, id, k.given, `${k.opId}:meta`);
      // CONFLICT: this op id ran before (a relative ExpiryTime computed again differs).
      if (r.code !== 'OK' && r.code !== 'CONFLICT') throw storeError(r);
    }
  });
}

/** SetBalance's run key: the body is what the call sets (the settings it names, the expiry as sent). */
function setRunKey(k: SetCall) {
  const meta = { ...k.meta, expiryMs: k.relativeExpiry ? k.expiry : k.meta.expiryMs };
  const body = [k.unit, k.amount, k.id || '*default', meta, Object.keys(k.given ?? {}).sort()];
  const kind = k.method === 'setbalance' ? 'setbalance' : 'addbalance';
  const key = { tenant: k.tenant, account: k.account, actionsId: '', reference: k.reference };
  return runKey(key, kind, body);
}

export const balanceMethods = {
  /** Tops up the balance with that ID, or adds it; a missing account is created (as CGRateS does). */
  async 'APIerSv1.AddBalance'(arg: Obj, c: CgrContext) {
    const k = readCall(arg, 'AttrAddBalance', 'addbalance', c);
    if (k.overwrite) {
      await setBalance(c, k);
      return 'OK';
    }
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

  /** Sets the balance's Value and the settings named (creating it, and the account, when missing). */
  async 'APIerSv1.SetBalance'(arg: Obj, c: CgrContext) {
    await setBalance(c, readCall(arg, 'AttrSetBalance', 'setbalance', c));
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
