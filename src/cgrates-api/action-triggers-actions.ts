/**
 * What a trigger's or threshold's actions may be. A notification rule does one thing when it fires:
 * it records its event (GET /v1/account-events, the pull API) and the webhooks of the tenant deliver
 * it. So the actions must say no more than that: `*log` and `*cdrlog` (the event is the record), and
 * `*http_post` / `*http_post_async` to a URL that is one of the tenant's webhook endpoints, enabled
 * and subscribed to the event (or to `*`). Anything else (a `*topup`, a `*debit`…) would be an action
 * the rule does not run: NOT_IMPLEMENTED when the trigger is set, nothing stored.
 */
import { EVENT_OF, type RuleKind } from '../notifications/rules.js';
import type { StoredAction } from './actions-store.js';
import { CgrError, NOT_FOUND, notImplemented } from './errors.js';
import type { CgrContext } from './context.js';

const RECORDS = new Set(['*log', '*cdrlog']);
const POSTS = new Set(['*http_post', '*http_post_async']);

/** The triggers' store, when the engine has PostgreSQL for it. */
export function triggersOf(c: CgrContext) {
  if (!c.triggers)
    throw notImplemented('action triggers need PostgreSQL (the engine was started without it)');
  return c.triggers;
}

/** Checks the action profile `actionsId` for a rule of `kind` in the tenant; throws when it does not map. */
export async function checkTriggerActions(
  c: CgrContext,
  tenant: string,
  actionsId: string,
  kind: RuleKind,
): Promise<void> {
  if (!c.actions) throw notImplemented('actions need PostgreSQL (the engine was started without it)');
  const list = (await c.actions.get(tenant, [actionsId])).get(actionsId);
  if (!list) throw new CgrError(`${NOT_FOUND}: ActionsID ${actionsId}`);
  for (const a of list) await checkAction(c, tenant, a, EVENT_OF[kind]);
}

async function checkAction(c: CgrContext, tenant: string, a: StoredAction, eventType: string) {
  if (RECORDS.has(a.type)) return;
  if (!POSTS.has(a.type))
    throw notImplemented(`action ${a.type} in a trigger (a rule only records its event)`);
  if (!(await triggersOf(c).endpointListens(tenant, a.extraParameters, eventType)))
    throw notImplemented(
      `${a.type} to ${a.extraParameters}: no enabled webhook endpoint of the tenant with this URL subscribed to ${eventType} (POST /v1/webhooks)`,
    );
}
