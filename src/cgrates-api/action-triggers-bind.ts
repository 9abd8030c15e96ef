/**
 * Binding a group's triggers to an account, shared by AddAccountActionTriggers and
 * APIerSv2.SetAccount's ActionTriggerIDs: every check runs before anything is written.
 */
import { checkTriggerActions, triggersOf } from './action-triggers-actions.js';
import { refuseNul, ruleKindOf, type StoredTrigger } from './action-triggers-read.js';
import type { CgrContext } from './context.js';
import { CgrError, NOT_FOUND } from './errors.js';
import { fields, type Obj } from './params.js';

/** Every trigger's actions checked against the rule it becomes. */
export async function checkAll(c: CgrContext, tenant: string, list: StoredTrigger[]): Promise<void> {
  for (const t of list) await checkTriggerActions(c, tenant, t.actionsId, ruleKindOf(t).kind);
}

/**
 * The triggers of the groups, ready to bind: each group must exist (CGRateS: NOT_FOUND), and each
 * trigger still map (its actions may have changed since it was set).
 */
export async function groupsToBind(
  c: CgrContext,
  tenant: string,
  groupIds: string[],
): Promise<StoredTrigger[]> {
  const list = await triggersOf(c).groups(tenant, groupIds);
  const missing = groupIds.filter((g) => !list.some((t) => t.groupId === g));
  if (missing.length) throw new CgrError(`${NOT_FOUND}: ActionTriggerIDs ${missing.join(', ')}`);
  await checkAll(c, tenant, list);
  return list;
}

/**
 * SetAccount's triggers, checked before the account is made: answers what to do once it exists.
 * v2's `ActionTriggerIDs`: as in CGRateS, a list given (even empty) with ActionTriggerOverwrite
 * replaces the account's triggers; no list leaves them alone. v1's `ActionTriggersId` (one group):
 * the account's triggers become that group's.
 */
export async function setAccountTriggers(c: CgrContext, tenant: string, arg: Obj) {
  const f = fields(arg, 'AttrSetAccount');
  const v1 = f.str('ActionTriggersId') || f.str('ActionTriggersID');
  const ids = v1 ? [v1] : f.strings('ActionTriggerIDs');
  refuseNul(ids, 'ActionTriggerIDs');
  const overwrite = v1 !== '' || (Array.isArray(arg.ActionTriggerIDs) && f.bool('ActionTriggerOverwrite'));
  if (!ids.length && !overwrite) return async () => {};
  const list = ids.length ? await groupsToBind(c, tenant, ids) : [];
  return (account: string) => triggersOf(c).bind(tenant, account, list, 'add', overwrite);
}
