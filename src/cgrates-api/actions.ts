/**
 * APIerSv2.SetActions / GetActions / RemoveActions and APIerSv1.ExecuteAction: action profiles
 * (utils.AttrSetActions with utils.TPAction) checked whole when set, stored per tenant
 * (actions-store.ts) and executed on the engine's own services (action-run.ts).
 *
 * Only the action types the facade can carry out exactly are accepted, so a profile that would
 * fail at execution is refused when it is set; what depends on the account (a prepaid account's
 * `*allow_negative`) is checked for every action before the first one runs. ExecuteAction is
 * idempotent with a `Reference` (an extension field beside ActionsId): every action's op id is
 * derived from it and its place, and a run done whole is recorded, so its replay moves nothing.
 */
import { decimalToNano } from '../rating/money.js';
import type { BalanceUnit } from '../balances/model.js';
import type { StoredAction } from './actions-store.js';
import { executeActions } from './action-run.js';
import {
  CgrError,
  jsonKind,
  NOT_FOUND,
  notConvertible,
  notImplemented,
  unsupportedFormat,
} from './errors.js';
import { floatToNano, floatToScaled, nanoNumber } from './money.js';
import { expiryOf, fields, idList, requireFields, type Obj } from './params.js';
import { BALANCE_TYPES, GO_ZERO_TIME } from './shapes.js';
import type { CgrContext } from './context.js';

/**
 * What the facade executes (action-run.ts); the others are refused with NOT_IMPLEMENTED when set.
 * `*http_post` and `*http_post_async` go to a webhook endpoint of the tenant with that URL, as an
 * event: ExecuteAction's (action-run.ts) or an action trigger's or threshold's rule's
 * (action-triggers-actions.ts).
 */
const POSTS = new Set(['*http_post', '*http_post_async']);
const NEEDS_BALANCE = new Set(['*topup', '*debit', '*topup_reset', '*debit_reset', '*set_expiry']);
const SUPPORTED = new Set([
  ...NEEDS_BALANCE,
  '*reset_account',
  '*enable_account',
  '*disable_account',
  '*allow_negative',
  '*deny_negative',
  '*log',
  '*cdrlog',
  ...POSTS,
]);

/** Units as CGRateS v2 sends them (a string) or v1 (a float64), exactly in base units. */
function unitsOf(v: unknown, unit: BalanceUnit): number {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return unit === 'money' ? floatToNano(v, 'Units') : floatToScaled(v, 0, 'Units');
  if (typeof v !== 'string') throw unsupportedFormat(`Units ${jsonKind(v)}`);
  if (unit !== 'money') {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw notConvertible(`Units ${v}`);
    return Number(v);
  }
  try {
    return decimalToNano(v);
  } catch (err) {
    throw notConvertible(`Units ${(err as Error).message}`);
  }
}

/** A number that may come as a string (TPAction's BalanceWeight, BalanceBlocker). */
const numberish = (v: unknown) =>
  typeof v === 'string' && v !== '' ? Number(v) : typeof v === 'number' ? v : 0;

function readAction(a: Obj, now: number): StoredAction {
  const f = fields(a, 'TPAction');
  const type = f.str('Identifier');
  if (!type) throw new CgrError('MANDATORY_IE_MISSING: [Identifier]');
  if (!SUPPORTED.has(type)) throw notImplemented(`action ${type}`);
  if (f.str('Filter') || f.str('SharedGroups') || f.str('TimingTags'))
    throw notImplemented('Filter, SharedGroups and TimingTags on an action');
  const unit = NEEDS_BALANCE.has(type) ? BALANCE_TYPES[f.str('BalanceType')] : undefined;
  if (NEEDS_BALANCE.has(type) && !unit) throw unsupportedFormat(`BalanceType ${f.str('BalanceType')}`);
  if (type === '*debit' && unit !== 'money') throw notImplemented(`*debit of a ${unit} balance`);
  const amount = unit ? unitsOf(a.Units, unit) : 0;
  if (type === '*debit_reset' && amount !== 0)
    throw notImplemented('*debit_reset with Units (a balance below zero): Units 0 sets it to zero');
  if (POSTS.has(type) && !/^https?:\/\/\S+$/.test(f.str('ExtraParameters')))
    throw unsupportedFormat(`ExtraParameters of ${type}: an http(s) URL`);
  const weight = numberish(a.BalanceWeight);
  if (!Number.isFinite(weight)) throw notConvertible(`BalanceWeight ${String(a.BalanceWeight)}`);
  expiryOf(f.str('ExpiryTime'), now); // checked now; resolved when executed (+720h is from then)
  return {
    type,
    balanceId: f.str('BalanceId') || f.str('BalanceUuid'),
    unit: unit ?? null,
    amount,
    expiry: f.str('ExpiryTime'),
    destinations: idList(f.str('DestinationIds'), 'DestinationIds'),
    categories: idList(f.str('Categories'), 'Categories'),
    ratingSubject: f.str('RatingSubject'),
    balanceWeight: weight,
    blocker: a.BalanceBlocker === true || a.BalanceBlocker === 'true',
    extraParameters: f.str('ExtraParameters'),
    weight: f.num('Weight'),
  };
}

/** engine.Action as APIerSv2.GetActions answers it. */
function cgrAction(id: string, a: StoredAction) {
  const type = Object.entries(BALANCE_TYPES).find(([, u]) => u === a.unit)?.[0] ?? '';
  const set = (ids: string[]) => (ids.length ? Object.fromEntries(ids.map((x) => [x, true])) : null);
  return {
    Id: id,
    ActionType: a.type,
    ExtraParameters: a.extraParameters,
    Filter: '',
    ExpirationString: a.expiry,
    Weight: a.weight,
    Balance: a.unit
      ? {
          Uuid: null,
          ID: a.balanceId || null,
          Type: type,
          Value: { Static: a.unit === 'money' ? nanoNumber(a.amount) : a.amount },
          ExpirationDate: a.expiry ? null : GO_ZERO_TIME,
          Weight: a.balanceWeight,
          DestinationIDs: set(a.destinations),
          RatingSubject: a.ratingSubject || null,
          Categories: set(a.categories),
          SharedGroups: null,
          TimingIDs: null,
          Timings: null,
          Disabled: null,
          Factor: null,
          Blocker: a.blocker,
        }
      : null,
  };
}

/** The action store, when the engine has PostgreSQL for it. */
function actionsOf(c: CgrContext) {
  if (!c.actions) throw notImplemented('actions need PostgreSQL (the engine was started without it)');
  return c.actions;
}

export const actionMethods = {
  async 'APIerSv2.SetActions'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrSetActions');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['ActionsId', 'Actions']);
    const list = arg.Actions;
    if (!Array.isArray(list) || list.some((a) => jsonKind(a) !== 'object'))
      throw new CgrError(
        'json: cannot unmarshal into Go struct field AttrSetActions.Actions of type []*utils.TPAction',
      );
    const actions = (list as Obj[]).map((a) => readAction(a, c.now()));
    if (!(await actionsOf(c).set(tenant, f.str('ActionsId'), actions, f.bool('Overwrite'))))
      throw new CgrError('EXISTS');
    return 'OK';
  },

  async 'APIerSv2.GetActions'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetActions');
    const tenant = c.tenantOf(f.str('Tenant'));
    const wanted = f.strings('ActionIDs');
    const ids = wanted.length ? wanted : await actionsOf(c).ids(tenant);
    const found = await actionsOf(c).get(tenant, ids);
    if (!found.size) throw new CgrError(NOT_FOUND);
    return Object.fromEntries([...found].map(([id, list]) => [id, list.map((a) => cgrAction(id, a))]));
  },

  async 'APIerSv2.RemoveActions'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrRemoveActions');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['ActionIDs']);
    if (!(await actionsOf(c).remove(tenant, f.strings('ActionIDs')))) throw new CgrError(NOT_FOUND);
    return 'OK';
  },

  /** The profile's actions on the account, once per Reference (action-run.ts). */
  async 'APIerSv1.ExecuteAction'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrExecuteAction');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['Account', 'ActionsId']);
    const account = f.str('Account');
    const ref = f.str('Reference');
    if (ref.length > 200) throw unsupportedFormat('Reference: at most 200 characters');
    const actionsId = f.str('ActionsId');
    const list = (await actionsOf(c).get(tenant, [actionsId])).get(actionsId);
    if (!list) throw new CgrError(NOT_FOUND);
    await executeActions(c, { tenant, account, actionsId, reference: ref }, list);
    return 'OK';
  },
};
