/**
 * APIerSv1.SetActionPlan / GetActionPlan / RemoveActionPlan / GetAccountActionPlan, and the
 * ActionPlanIDs (v2) / ActionPlanID (v1) of SetAccount, mapped onto the billing plans: an action
 * plan's periodic timing and its actions become a versioned catalog plan (action-plan-body.ts),
 * binding an account assigns it, and the engine's one plan renewal runs it at each period end.
 * The facade keeps no scheduler of its own.
 */
import { putPlan } from '../billing/plans/catalog.js';
import { accountMethods, accountMethodsV1 } from './accounts.js';
import { planBodyOf, planCodeOf } from './action-plan-body.js';
import { actionPlansOf, asCgr, bindPlans, plansNamed, unbind } from './action-plan-binding.js';
import { cgrAccountActionTimings, cgrActionPlan } from './action-plan-shapes.js';
import { readTiming, sameTimings, type StoredTiming } from './action-plan-timing.js';
import { isPlanId, isText, type ActionPlanRow } from './action-plans-store.js';
import type { StoredAction } from './actions-store.js';
import type { CgrContext } from './context.js';
import {
  CgrError,
  jsonKind,
  mandatoryMissing,
  NOT_FOUND,
  notImplemented,
  unsupportedFormat,
} from './errors.js';
import { fields, requireFields, tenantAccount, type Obj } from './params.js';

type Method = (arg: Obj, c: CgrContext) => Promise<unknown>;

function timingsOf(arg: Obj, c: CgrContext): StoredTiming[] {
  const list = arg.ActionPlan;
  if (!Array.isArray(list) || list.some((a) => jsonKind(a) !== 'object'))
    throw new CgrError(
      'json: cannot unmarshal into Go struct field AttrSetActionPlan.ActionPlan of type []*v1.AttrActionPlan',
    );
  if (!list.length) throw mandatoryMissing(['ActionPlan']);
  const now = c.now();
  const timings = (list as Obj[]).map((a) => readTiming(a, c.newId(), now));
  if (timings.filter((t) => t.kind !== 'asap').length > 1)
    throw notImplemented('more than one periodic timing in an action plan: one plan renews per period');
  return timings;
}

/** The actions each timing names (BROKEN_REFERENCE:<id> as CGRateS answers an unknown one). */
async function actionsFor(c: CgrContext, tenant: string, timings: StoredTiming[]) {
  if (!c.actions) throw notImplemented('action plans need PostgreSQL (the engine was started without it)');
  const ids = [...new Set(timings.map((t) => t.actionsId))];
  const bad = ids.find((id) => !isText(id));
  if (bad !== undefined) throw new CgrError(`BROKEN_REFERENCE:${bad}`);
  const found = await c.actions.get(tenant, ids);
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined) throw new CgrError(`BROKEN_REFERENCE:${missing}`);
  return found;
}

/** The catalog plan of the periodic timing (a new version only when its body changed). */
async function planOf(
  c: CgrContext,
  tenant: string,
  id: string,
  timings: StoredTiming[],
  acts: Map<string, StoredAction[]>,
) {
  const periodic = timings.find((t) => t.kind !== 'asap');
  if (!periodic) return { planCode: null, planVersion: null };
  const firstWhole = timings.some((t) => t.kind === 'asap' && t.actionsId === periodic.actionsId);
  const body = planBodyOf(id, periodic, acts.get(periodic.actionsId)!, c.currency, firstWhole);
  const { plans } = actionPlansOf(c);
  const code = planCodeOf(id);
  const { plan } = await asCgr(putPlan(plans.pool, plans.schema, tenant, code, body));
  return { planCode: code, planVersion: plan.version };
}

const unchanged = (prior: ActionPlanRow, next: Omit<ActionPlanRow, 'id'>) =>
  prior.planCode === next.planCode &&
  prior.planVersion === next.planVersion &&
  sameTimings(prior.timings, next.timings);

export const actionPlanMethods = {
  /** Overwrite unbinds every account, as CGRateS does; the same definition again changes nothing. */
  async 'APIerSv1.SetActionPlan'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrSetActionPlan');
    const tenant = c.tenantOf(f.str('Tenant'));
    // utils.MissingStructFields counts an empty list as missing.
    const list = arg.ActionPlan;
    requireFields({ ...arg, ActionPlan: Array.isArray(list) && !list.length ? null : list }, [
      'Id',
      'ActionPlan',
    ]);
    const id = f.str('Id');
    if (!isPlanId(id)) throw unsupportedFormat(`Id: 1-64 characters, no spaces, ':', braces or controls`);
    const timings = timingsOf(arg, c);
    const acts = await actionsFor(c, tenant, timings);
    const periodic = timings.find((t) => t.kind !== 'asap');
    if (periodic) planBodyOf(id, periodic, acts.get(periodic.actionsId)!, c.currency, false); // refusals first
    const d = actionPlansOf(c);
    const prior = await d.store.get(tenant, id);
    if (prior && !f.bool('Overwrite')) throw new CgrError('EXISTS');
    const next = { timings, ...(await planOf(c, tenant, id, timings, acts)) };
    if (prior && unchanged(prior, next)) return 'OK';
    if (prior) await unbind(d, tenant, await d.store.ofPlans(tenant, [id]));
    await d.store.put(tenant, { id, ...next });
    return 'OK';
  },

  /** One plan by ID, or every plan of the tenant for "" or "*". */
  async 'APIerSv1.GetActionPlan'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetActionPlan');
    const tenant = c.tenantOf(f.str('Tenant'));
    const id = f.str('ID');
    const { store } = actionPlansOf(c);
    if (id !== '' && id !== '*' && !isPlanId(id)) throw new CgrError(NOT_FOUND);
    const plans = id === '' || id === '*' ? await store.list(tenant) : [await store.get(tenant, id)];
    if (plans.some((p) => !p)) throw new CgrError(NOT_FOUND);
    const rows = plans as ActionPlanRow[];
    const bound = await store.ofPlans(
      tenant,
      rows.map((p) => p.id),
    );
    return rows.map((p) => cgrActionPlan(tenant, p, bound));
  },

  /** Unbinds every account (each runs to its period end, no refund) and removes the plan. */
  async 'APIerSv1.RemoveActionPlan'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetActionPlan');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['ID']);
    const d = actionPlansOf(c);
    if (!isPlanId(f.str('ID')) || !(await d.store.get(tenant, f.str('ID')))) throw new CgrError(NOT_FOUND);
    await unbind(d, tenant, await d.store.ofPlans(tenant, [f.str('ID')]));
    await d.store.remove(tenant, f.str('ID'));
    return 'OK';
  },

  async 'APIerSv1.GetAccountActionPlan'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'TenantAccount');
    const tenant = c.tenantOf(f.str('Tenant'));
    // CGRateS joins the missing names with "," and adds "": `[Account ]`.
    if (!f.str('Account')) throw mandatoryMissing(['Account', '']);
    if (!isText(f.str('Account'))) throw unsupportedFormat(`bad account id "${f.str('Account')}"`);
    const { store } = actionPlansOf(c);
    const bound = await store.ofAccount(tenant, f.str('Account'));
    const ids = [...new Set(bound.map((b) => b.actionPlanId))];
    const plans = await Promise.all(ids.map((id) => store.get(tenant, id)));
    return cgrAccountActionTimings(
      plans.filter((p): p is ActionPlanRow => p !== undefined),
      bound,
    );
  },
};

/** The plans SetAccount names: v2 ActionPlanIDs (null = leave them), v1 one ActionPlanID. */
function namedPlans(arg: Obj, v1: boolean): { ids: string[]; overwrite: boolean } | undefined {
  const f = fields(arg, 'AttrSetAccount');
  if (v1) return f.str('ActionPlanID') ? { ids: [f.str('ActionPlanID')], overwrite: true } : undefined;
  // Go's encoding/json matches names case-insensitively: OmniCRM sends "ActionPlanIds".
  const key = 'ActionPlanIDs' in arg ? 'ActionPlanIDs' : 'ActionPlanIds';
  if (arg[key] === undefined || arg[key] === null) return undefined;
  return { ids: fields(arg, 'AttrSetAccount').strings(key), overwrite: f.bool('ActionPlansOverwrite') };
}

/** SetAccount with its action plans: named plans checked first, the account set, then bound. */
function withActionPlans(setAccount: Method, v1: boolean): Method {
  return async (arg, c) => {
    const named = namedPlans(arg, v1);
    if (!named) return setAccount(arg, c);
    const { tenant, account } = tenantAccount(arg, 'AttrSetAccount', c);
    if (!isText(account)) throw unsupportedFormat(`bad account id "${account}"`);
    const plans = await plansNamed(c, tenant, named.ids);
    const { ActionPlanIDs: _v2, ActionPlanIds: _omni, ActionPlanID: _v1, ...rest } = arg;
    const reply = await setAccount(rest, c);
    await bindPlans(c, tenant, account, plans, named.overwrite);
    return reply;
  };
}

/** Listed after accounts.ts's methods in dispatch.ts: these wrap them. */
export const setAccountWithPlans = {
  'APIerSv2.SetAccount': withActionPlans(accountMethods['APIerSv2.SetAccount'], false),
  'APIerSv1.SetAccount': withActionPlans(accountMethodsV1['APIerSv1.SetAccount'], true),
};
