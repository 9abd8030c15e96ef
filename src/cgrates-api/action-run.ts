/**
 * ExecuteAction's actions on one account: every action checked against the account first (a
 * refused profile writes nothing), then each run under its op id, on the engine's own services:
 *
 * - `*topup`, `*debit`: AddBalance's and DebitBalance's functions (balances.ts);
 * - `*topup_reset` (to the Units), `*debit_reset` (to zero), `*reset_account`, `*set_expiry`:
 *   action-balance.ts;
 * - `*enable_account` / `*disable_account`: the account's status (active / suspended);
 * - `*allow_negative` / `*deny_negative`: CGRateS's AllowNegative is the engine's postpaid account
 *   (GetAccount answers AllowNegative for it). An account's type is chosen when it is created, so
 *   `*allow_negative` is a no-op on a postpaid account and refused on a prepaid one; `*deny_negative`
 *   sets a postpaid account's credit limit to 0 (its money goes no further below zero) and is a no-op
 *   on a prepaid one;
 * - `*http_post`, `*http_post_async`: an account event `cgrates.action_posted` (the account's
 *   balances, as CGRateS posts the account) that the tenant's webhook endpoints subscribed to it
 *   deliver, signed and retried; the URL must be one of those endpoints (registered through
 *   POST /v1/webhooks, where its target is checked), so the facade never posts to a URL of its own.
 *   Both are asynchronous (CGRateS's `*http_post` waits for the answer);
 * - `*log`, `*cdrlog`: a log line (the ledger and rated records already hold every movement).
 */
import type { StoredAction } from './actions-store.js';
import { accountOf, storeError } from './accounts.js';
import {
  balanceMeta,
  checkReset,
  ownBalances,
  resetAccount,
  resetBalance,
  resetId,
  setExpiry,
} from './action-balance.js';
import { takeMoney, topUp, type BalanceCall } from './balances.js';
import type { CgrContext } from './context.js';
import { notImplemented, unsupportedFormat } from './errors.js';
import { nanoToDecimal } from '../rating/money.js';
import { triggersOf } from './action-triggers-actions.js';
import { oncePerReference, runKey } from './run-once.js';

type View = Awaited<ReturnType<typeof accountOf>>;

/**
 * What a reset sets the balance to: `*topup_reset` the Units; `*debit_reset` minus them, which
 * SetActions takes only as 0 (a named balance of the engine holds no negative value).
 */
const targetOf = (a: StoredAction) => (a.type === '*topup_reset' ? a.amount : 0);

/** Throws when an action cannot be done on this account as it stands; nothing is written. */
function check(v: View, a: StoredAction): void {
  if (a.type === '*allow_negative' && v.account.type !== 'postpaid')
    throw notImplemented(
      '*allow_negative on a prepaid account (its type is chosen when created: POST /v1/accounts with type postpaid)',
    );
  if (a.type === '*topup_reset' || a.type === '*debit_reset') checkReset(v, resetId(a), a.unit!, targetOf(a));
  if (a.type === '*topup' && a.balanceId) {
    const b = v.balances.find((x) => x.id === a.balanceId);
    if (b && b.unit !== a.unit) throw unsupportedFormat(`balance ${b.id} is not of type ${a.unit}`);
  }
  if (a.type === '*reset_account') for (const b of ownBalances(v)) checkReset(v, b.id, b.unit, 0);
}

export const POSTED = 'cgrates.action_posted';
const POSTS = new Set(['*http_post', '*http_post_async']);

/** Checks every action against the account (NOT_FOUND when it does not exist). */
export async function checkActions(c: CgrContext, tenant: string, account: string, list: StoredAction[]) {
  const v = await accountOf(c, tenant, account);
  for (const a of list) check(v, a);
  for (const a of list.filter((x) => POSTS.has(x.type)))
    if (!(await triggersOf(c).endpointListens(tenant, a.extraParameters, POSTED)))
      throw notImplemented(
        `${a.type} to ${a.extraParameters}: no enabled webhook endpoint of the tenant with this URL subscribed to ${POSTED} (POST /v1/webhooks)`,
      );
}

/** The account's balances as the event carries them: values exact, as decimal text. */
async function posted(c: CgrContext, tenant: string, account: string, a: StoredAction, opId: string) {
  const v = await accountOf(c, tenant, account);
  const balances = v.balances.map((b) => ({
    id: b.id,
    unit: b.unit,
    value: b.unit === 'money' ? nanoToDecimal(b.value) : String(b.value),
    expiresAt: b.expiryMs === null ? null : new Date(b.expiryMs).toISOString(),
    shared: b.scope === 'g',
  }));
  const payload = { opId, actionType: a.type, url: a.extraParameters, status: v.account.status, balances };
  await c.actions!.post(tenant, account, `${POSTED}:${opId}`, payload);
}

async function setStatus(c: CgrContext, tenant: string, account: string, a: StoredAction, opId: string) {
  const status = a.type === '*enable_account' ? 'active' : 'suspended';
  const r = await c.balances.updateAccount(tenant, account, { status }, opId);
  if (r.code !== 'OK') throw storeError(r);
}

async function denyNegative(c: CgrContext, tenant: string, account: string, opId: string) {
  const v = await accountOf(c, tenant, account);
  if (v.account.type !== 'postpaid' || v.account.creditLimitNano === 0) return;
  const r = await c.balances.updateAccount(tenant, account, { creditLimitNano: 0 }, opId);
  if (r.code !== 'OK' && r.code !== 'CONFLICT') throw storeError(r);
}

function balanceCall(c: CgrContext, tenant: string, account: string, a: StoredAction, opId: string) {
  return {
    tenant,
    account,
    unit: a.unit!,
    amount: a.amount,
    id: a.balanceId,
    meta: balanceMeta(c, a),
    relativeExpiry: a.expiry.startsWith('+'),
    opId,
  } satisfies BalanceCall;
}

/** One action on the account under its op id. */
export async function runAction(
  c: CgrContext,
  tenant: string,
  account: string,
  a: StoredAction,
  opId: string,
) {
  switch (a.type) {
    case '*topup':
      return topUp(c, balanceCall(c, tenant, account, a, opId));
    case '*debit':
      return takeMoney(c, balanceCall(c, tenant, account, a, opId), a.amount);
    case '*topup_reset':
    case '*debit_reset':
      return resetBalance(c, tenant, account, a, targetOf(a), opId);
    case '*reset_account':
      return resetAccount(c, tenant, account, opId);
    case '*set_expiry':
      return setExpiry(c, tenant, account, a, opId);
    case '*enable_account':
    case '*disable_account':
      return setStatus(c, tenant, account, a, opId);
    case '*deny_negative':
      return denyNegative(c, tenant, account, opId);
    case '*allow_negative':
      return; // checked: the account is postpaid
    case '*http_post':
    case '*http_post_async':
      return posted(c, tenant, account, a, opId);
    default:
      c.log.info({ tenant, account, action: a.type }, 'cgrates action');
  }
}

/**
 * ExecuteAction's run of the profile on the account: by Weight, highest first (as CGRateS sorts
 * them), each action's op id derived from the Reference and its place; once per Reference and
 * account (run-once.ts: the profile id is the body, so another ActionsId under it is EXISTS). The
 * account is part of the key: an action plan runs one timing on each account under one Reference.
 */
export async function executeActions(
  c: CgrContext,
  run: { tenant: string; account: string; actionsId: string; reference: string },
  list: StoredAction[],
) {
  const { tenant, account, actionsId, reference } = run;
  const key = runKey({ tenant, account, actionsId, reference }, 'exec', [actionsId]);
  await oncePerReference(c, key, async (wrote) => {
    await checkActions(c, tenant, account, list);
    const base = `cgr:exec:${reference ? `${actionsId}:${reference}` : c.newId()}`;
    const ordered = list.map((a, i) => ({ a, i })).sort((x, y) => y.a.weight - x.a.weight || x.i - y.i);
    for (const { a, i } of ordered) {
      // An action refused (INSUFFICIENT_CREDIT on a *debit) checked before its write: only
      // once one is done has the run written.
      await runAction(c, tenant, account, a, `${base}:${i}`);
      wrote();
    }
  });
}
