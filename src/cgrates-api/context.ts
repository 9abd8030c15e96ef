/** What every /jsonrpc method gets: the engine's services and who is calling. */
import type { BalanceStore } from '../balances/store.js';
import type { EventDeps } from '../charging/events.js';
import type { Sessions } from '../charging/sessions.js';
import type { FastifyBaseLogger } from 'fastify';
import type { CgrActionsStore } from './actions-store.js';
import type { ActionPlanStore } from './action-plans-store.js';
import type { PlansDeps } from '../billing/plans/db.js';
import type { CgrTriggersStore } from './action-triggers-store.js';
import type { CdrReads } from './cdr-reads.js';
import type { Principal } from '../http/auth.js';
import type { ActiveTariff } from '../tariffs/active.js';
import { CgrError, NOT_FOUND, UNAUTHORIZED_API } from './errors.js';

export interface CgrContext {
  balances: BalanceStore;
  tariff: ActiveTariff;
  sessions: Sessions;
  /** What one-shot charging events need (src/charging/events.ts). */
  events: EventDeps;
  /** Action profiles (undefined: no PostgreSQL). */
  actions: CgrActionsStore | undefined;
  /** Action plans and the billing plans they renew as (undefined: no PostgreSQL). */
  actionPlans: ActionPlanStore | undefined;
  plans: PlansDeps | undefined;
  /** Action triggers and threshold profiles, with their notification rules (undefined: no PostgreSQL). */
  triggers: CgrTriggersStore | undefined;
  /** Rated CDRs and records (undefined: no PostgreSQL). */
  cdrs: CdrReads | undefined;
  principal: Principal;
  log: FastifyBaseLogger;
  /** Currency of accounts SetAccount creates (CGRateS accounts have none). */
  currency: string;
  /** The folder LoadTariffPlanFromFolder may load from or under (tariff-load.ts). */
  tariffRoot: string;
  now: () => number;
  /** A fresh operation id part (writes CGRateS does not make idempotent). */
  newId: () => string;
  /** The Tenant param, defaulting to the key's; another tenant is refused before anything runs. */
  tenantOf: (tenant: string) => string;
  /** A self-care key reads only its own account. */
  assertOwn: (account: string) => void;
}

export function contextFor(
  base: Pick<
    CgrContext,
    | 'balances'
    | 'tariff'
    | 'sessions'
    | 'events'
    | 'actions'
    | 'actionPlans'
    | 'plans'
    | 'triggers'
    | 'cdrs'
    | 'currency'
    | 'tariffRoot'
    | 'now'
    | 'newId'
  >,
  principal: Principal,
  log: FastifyBaseLogger,
): CgrContext {
  return {
    ...base,
    principal,
    log,
    tenantOf(tenant) {
      if (tenant !== '' && tenant !== principal.tenant) throw new CgrError(UNAUTHORIZED_API);
      return principal.tenant;
    },
    assertOwn(account) {
      // As the /v1 routes answer another customer's account: as if it did not exist.
      if (principal.role === 'selfcare' && principal.accountId !== account) throw new CgrError(NOT_FOUND);
    },
  };
}
