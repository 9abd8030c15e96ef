/**
 * APIerSv1's action trigger methods (apier/v1/triggers.go) on the notification rules: a group's
 * triggers are templates; bound to an account (AddAccountActionTriggers, SetAccountActionTriggers,
 * SetAccount's ActionTriggerIDs) each copy becomes the rule `cgr-at:{account}:{group}:{unique}`,
 * judged by the one detector (src/notifications/detect.ts) — the facade detects nothing itself.
 * A trigger that does not map (action-triggers-read.ts, action-triggers-actions.ts) is refused
 * before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { accountOf } from './accounts.js';
import { triggersOf } from './action-triggers-actions.js';
import { checkAll, groupsToBind } from './action-triggers-bind.js';
import {
  checkTriggerId,
  cgrTrigger,
  mergeTrigger,
  nulChecked,
  triggerMap,
  type StoredTrigger,
} from './action-triggers-read.js';
import type { CgrContext } from './context.js';
import { CgrError, NOT_FOUND, notImplemented } from './errors.js';
import { fields, requireFields, tenantAccount, type Obj } from './params.js';

/** Groups have no Tenant field in CGRateS; one named anyway must be the key's. */
const tenantNamed = (arg: Obj, c: CgrContext) => c.tenantOf(typeof arg.Tenant === 'string' ? arg.Tenant : '');

/** AddAccountActionTriggers' ActivationDate: only "now" (empty or *now) is offered. */
function checkActivation(s: string): void {
  if (s !== '' && s !== '*now') throw notImplemented('ActivationDate on bound triggers');
}

export const triggerMethods = nulChecked({
  /** A new trigger in the group (a fresh UniqueID), or the group's trigger with that UniqueID updated. */
  async 'APIerSv1.SetActionTrigger'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrSetActionTrigger');
    const tenant = tenantNamed(arg, c);
    requireFields(arg, ['GroupID']);
    const groupId = f.str('GroupID');
    const uniqueId = f.str('UniqueID') || randomUUID();
    checkTriggerId(groupId, 'GroupID');
    checkTriggerId(uniqueId, 'UniqueID');
    const base = (await triggersOf(c).groups(tenant, [groupId])).find((t) => t.uniqueId === uniqueId) ?? null;
    const t = mergeTrigger(base, { groupId, uniqueId }, triggerMap(arg, 'AttrSetActionTrigger'));
    await checkAll(c, tenant, [t]);
    await triggersOf(c).setTemplate(tenant, t);
    return 'OK';
  },

  async 'APIerSv1.GetActionTriggers'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetActionTriggers');
    const tenant = tenantNamed(arg, c);
    const wanted = f.strings('GroupIDs');
    const list = await triggersOf(c).groups(tenant, wanted);
    if (!list.length || wanted.some((g) => !list.some((t) => t.groupId === g))) throw new CgrError(NOT_FOUND);
    return list.map((t) => cgrTrigger(t));
  },

  /** Removing is idempotent (as CGRateS's, again is OK); accounts keep their copies. */
  async 'APIerSv1.RemoveActionTrigger'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrRemoveActionTrigger');
    const tenant = tenantNamed(arg, c);
    requireFields(arg, ['GroupID']);
    await triggersOf(c).removeTemplates(tenant, f.str('GroupID'), f.str('UniqueID'));
    return 'OK';
  },

  async 'APIerSv1.AddAccountActionTriggers'(arg: Obj, c: CgrContext) {
    const { f, tenant, account } = tenantAccount(arg, 'AttrAddAccountActionTriggers', c);
    if (f.bool('Executed')) throw notImplemented('Executed: triggers bound as already executed');
    checkActivation(f.str('ActivationDate'));
    await accountOf(c, tenant, account);
    const list = await groupsToBind(c, tenant, f.strings('ActionTriggerIDs'));
    await triggersOf(c).bind(tenant, account, list, 'add', f.bool('ActionTriggerOverwrite'));
    return 'OK';
  },

  /** Updates the account's matching triggers, or adds a new one (GroupID set, no match). */
  async 'APIerSv1.SetAccountActionTriggers'(arg: Obj, c: CgrContext) {
    const { f, tenant, account } = tenantAccount(arg, 'AttrSetAccountActionTriggers', c);
    const ids = { groupId: f.str('GroupID'), uniqueId: f.str('UniqueID') };
    const map = triggerMap(arg, 'AttrSetAccountActionTriggers');
    await accountOf(c, tenant, account);
    const had = await triggersOf(c).accountTriggers(tenant, account);
    const hit = (t: StoredTrigger) =>
      (ids.groupId === '' || t.groupId === ids.groupId) &&
      (ids.uniqueId === '' || t.uniqueId === ids.uniqueId);
    let list = had.filter(hit).map((t) => mergeTrigger(t, t, map));
    if (!list.length) {
      if (ids.groupId === '') throw new CgrError('MANDATORY_IE_MISSING: [GroupID]');
      checkTriggerId(ids.groupId, 'GroupID');
      checkTriggerId(ids.uniqueId, 'UniqueID');
      list = [mergeTrigger(null, ids, map)];
    }
    await checkAll(c, tenant, list);
    await triggersOf(c).bind(tenant, account, list, 'set', false);
    return 'OK';
  },

  /** engine.ActionTriggers of the account ([] when none); Executed: fired and not re-armed. */
  async 'APIerSv1.GetAccountActionTriggers'(arg: Obj, c: CgrContext) {
    const { tenant, account } = tenantAccount(arg, 'TenantAccount', c);
    await accountOf(c, tenant, account);
    const list = await triggersOf(c).ofAccount(tenant, account);
    return list.map((x) => cgrTrigger(x.trigger, x.executed));
  },

  /** The account's triggers matching GroupID and UniqueID (empty: every one), with their rules. */
  async 'APIerSv1.RemoveAccountActionTriggers'(arg: Obj, c: CgrContext) {
    const { f, tenant, account } = tenantAccount(arg, 'AttrRemoveAccountActionTriggers', c);
    await accountOf(c, tenant, account);
    await triggersOf(c).unbind(tenant, account, { groupId: f.str('GroupID'), uniqueId: f.str('UniqueID') });
    return 'OK';
  },
});
