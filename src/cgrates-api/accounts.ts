/**
 * APIerSv2.SetAccount / GetAccount / GetAccounts, APIerSv1.RemoveAccount on the balance store's
 * own account functions (the ones the /v1/accounts routes call).
 */
import type { OpResult } from '../balances/snapshot.js';
import { CgrError, exists, INSUFFICIENT_CREDIT, NOT_FOUND, notImplemented, serverError } from './errors.js';
import { fields, requireFields, tenantAccount, type Obj } from './params.js';
import { cgrAccount } from './shapes.js';
import { setAccountTriggers } from './action-triggers-bind.js';
import { cgrTrigger } from './action-triggers-read.js';
import type { CgrContext } from './context.js';

/**
 * What a store refusal is called in CGRateS (utils/errors.go). A refusal because of what the caller
 * asked or the state of the account (a balance held by a session's reservation, one that exists
 * already…) is never SERVER_ERROR, which says the engine failed and invites a retry.
 */
export function storeError(r: OpResult): CgrError {
  const detail = r.detail ? `: ${r.detail}` : '';
  switch (r.code) {
    case 'ACCOUNT_NOT_FOUND':
    case 'BALANCE_NOT_FOUND':
    case 'RESERVATION_NOT_FOUND':
      return new CgrError(NOT_FOUND);
    case 'INSUFFICIENT':
      return new CgrError(INSUFFICIENT_CREDIT);
    case 'ACCOUNT_INACTIVE':
      return new CgrError('ACCOUNT_DISABLED');
    case 'CONFLICT':
      return exists('the Reference was used for another request');
    case 'ACCOUNT_EXISTS':
    case 'BALANCE_EXISTS':
    case 'SUBSCRIPTION_TAKEN':
      return exists(`${r.code}${detail}`);
    case 'RESERVATION_EXISTS':
    case 'BALANCE_INACTIVE':
      // utils.ErrResourceUnavailable: held by a session's reservation, or expired / not yet active.
      return new CgrError(`RESOURCE_UNAVAILABLE: ${r.code}${detail}`);
    case 'RESERVATION_EXCEEDED':
      return new CgrError(`MAX_USAGE_EXCEEDED${detail}`);
    default:
      return serverError(`${r.code}${detail}`);
  }
}

/** The account, or NOT_FOUND (a closed account is a removed one). */
export async function accountOf(c: CgrContext, tenant: string, id: string) {
  const v = await c.balances.getAccount(tenant, id);
  if (!v || v.account.status === 'closed') throw new CgrError(NOT_FOUND);
  return v;
}

/**
 * Creates the account if it does not exist (CGRateS's SetAccount is an upsert; a second call is
 * a no-op here). Its op id is derived from tenant and account: the same call is the same write.
 * A removed (closed) account stays closed in the engine, its id taken by its history.
 */
export async function ensureAccount(c: CgrContext, tenant: string, id: string): Promise<void> {
  const v = await c.balances.getAccount(tenant, id);
  if (v?.account.status === 'closed')
    throw notImplemented('re-creating a removed account (its id stays taken)');
  if (v) return;
  const r = await c.balances.createAccount(
    // The account id as a subscription: SessionSv1 events name the Account (session-event.ts).
    {
      tenant,
      id,
      type: 'prepaid',
      currency: c.currency,
      subject: id,
      subscriptions: [{ type: 'private', value: id }],
    },
    `cgr:setaccount:${id}`,
  );
  if (r.code !== 'OK' && r.code !== 'ACCOUNT_EXISTS') throw storeError(r);
}

/**
 * The accounts' triggers in GetAccountActionTriggers' shape, by account: one indexed query, and
 * none without PostgreSQL or before the schema has trigger tables (a read creates none).
 */
async function triggersByAccount(c: CgrContext, tenant: string, ids: string[]) {
  const bound = c.triggers ? await c.triggers.ofAccounts(tenant, ids) : undefined;
  const out = new Map<string, ReturnType<typeof cgrTrigger>[]>();
  for (const [id, list] of bound ?? [])
    out.set(
      id,
      list.map((x) => cgrTrigger(x.trigger, x.executed)),
    );
  return out;
}

export const accountMethods = {
  async 'APIerSv2.SetAccount'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrSetAccount');
    const tenant = c.tenantOf(f.str('Tenant'));
    const account = f.str('Account');
    requireFields(arg, ['Account']);
    if (f.strings('ActionPlanIDs').length) throw notImplemented('ActionPlanIDs');
    const extra = f.obj('ExtraOptions');
    if (Object.values(extra).some((v) => v === true))
      throw notImplemented('ExtraOptions (AllowNegative, Disabled)');
    const bindTriggers = await setAccountTriggers(c, tenant, arg);
    await ensureAccount(c, tenant, account);
    await bindTriggers(account);
    return 'OK';
  },

  async 'APIerSv2.GetAccount'(arg: Obj, c: CgrContext) {
    const { tenant, account } = tenantAccount(arg, 'AttrGetAccount', c);
    c.assertOwn(account);
    const v = await accountOf(c, tenant, account);
    return cgrAccount(v, (await triggersByAccount(c, tenant, [account])).get(account));
  },

  /**
   * Only the accounts named: unknown ones are skipped. CGRateS also lists a whole tenant; the engine
   * keeps no list of a tenant's accounts to page through (an account is a Redis hash found from its
   * id alone; creating one writes no ledger row; billing_accounts holds only stored profiles), and a
   * keyspace SCAN per page is not a source a facade call should lean on: refused.
   */
  async 'APIerSv2.GetAccounts'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetAccounts');
    const tenant = c.tenantOf(f.str('Tenant'));
    const ids = f.strings('AccountIDs');
    if (!ids.length)
      throw notImplemented(
        'listing a whole tenant (the engine keeps no list of its accounts): give AccountIDs',
      );
    const offset = f.int('Offset');
    const limit = f.int('Limit');
    const views = await Promise.all(ids.map((id) => c.balances.getAccount(tenant, id)));
    const found = views.filter((v) => v && v.account.status !== 'closed');
    const page = found.slice(offset, limit > 0 ? offset + limit : undefined);
    if (!page.length) throw new CgrError(NOT_FOUND);
    const triggers = await triggersByAccount(
      c,
      tenant,
      page.map((v) => v!.account.id),
    );
    return page.map((v) => cgrAccount(v!, triggers.get(v!.account.id)));
  },

  /** The account is closed (its history stays); reads then answer NOT_FOUND. */
  async 'APIerSv1.RemoveAccount'(arg: Obj, c: CgrContext) {
    const { tenant, account } = tenantAccount(arg, 'AttrRemoveAccount', c);
    await accountOf(c, tenant, account);
    const r = await c.balances.updateAccount(
      tenant,
      account,
      { status: 'closed' },
      `cgr:remove:${c.newId()}`,
    );
    if (r.code !== 'OK') throw storeError(r);
    return 'OK';
  },
};

/** APIerSv1's GetAccount answers the same engine.Account; its SetAccount takes the same fields. */
export const accountMethodsV1 = {
  'APIerSv1.GetAccount': accountMethods['APIerSv2.GetAccount'],
  'APIerSv1.SetAccount': accountMethods['APIerSv2.SetAccount'],
};
