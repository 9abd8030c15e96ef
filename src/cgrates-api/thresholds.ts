/**
 * APIerSv1.SetThresholdProfile / GetThresholdProfile / GetThresholdProfileIDs /
 * RemoveThresholdProfile (ThresholdS, v0.10) for low-balance profiles: each profile is the
 * notification rule `cgr-th:{ID}` (thresholds-read.ts says what maps), stored with it in one
 * transaction; its ActionIDs are checked as a trigger's actions are (action-triggers-actions.ts).
 * Set is an upsert: the same call again changes nothing.
 */
import { checkTriggerActions, triggersOf } from './action-triggers-actions.js';
import { nulChecked } from './action-triggers-read.js';
import type { CgrContext } from './context.js';
import { CgrError, NOT_FOUND } from './errors.js';
import { fields, requireFields, type Obj } from './params.js';
import { readThreshold, thresholdRuleCode, type StoredThreshold } from './thresholds-read.js';

export const thresholdMethods = nulChecked({
  async 'APIerSv1.SetThresholdProfile'(arg: Obj, c: CgrContext) {
    const tenant = c.tenantOf(fields(arg, 'ThresholdWithCache').str('Tenant'));
    const { profile, rule } = readThreshold(arg, tenant);
    for (const id of profile.ActionIDs) await checkTriggerActions(c, tenant, id, rule.kind);
    await triggersOf(c).setThreshold(tenant, profile.ID, profile, rule);
    return 'OK';
  },

  async 'APIerSv1.GetThresholdProfile'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'TenantID');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['ID']);
    const p = await triggersOf(c).threshold<StoredThreshold>(tenant, f.str('ID'));
    if (!p) throw new CgrError(NOT_FOUND);
    return p;
  },

  /** utils.TenantArgWithPaginator: the ids in order, Offset and Limit applied; none is NOT_FOUND. */
  async 'APIerSv1.GetThresholdProfileIDs'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'TenantArgWithPaginator');
    const tenant = c.tenantOf(f.str('Tenant'));
    const offset = Math.max(0, f.int('Offset'));
    const limit = f.int('Limit');
    const ids = (await triggersOf(c).thresholdIds(tenant)).slice(
      offset,
      limit > 0 ? offset + limit : undefined,
    );
    if (!ids.length) throw new CgrError(NOT_FOUND);
    return ids;
  },

  async 'APIerSv1.RemoveThresholdProfile'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'TenantIDWithCache');
    const tenant = c.tenantOf(f.str('Tenant'));
    requireFields(arg, ['ID']);
    const id = f.str('ID');
    if (!(await triggersOf(c).removeThreshold(tenant, id, thresholdRuleCode(id))))
      throw new CgrError(NOT_FOUND);
    return 'OK';
  },
});
