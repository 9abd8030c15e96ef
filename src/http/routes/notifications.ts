/**
 * Notification rules, auto top-up settings and the CRM's report on a top-up request (issue 14;
 * docs/EVENTS.md "Notifications"). Billing role, scoped to the key's tenant: an account of another
 * tenant is answered as unknown. A refused body writes nothing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { BalanceStore } from '../../balances/store.js';
import { reportResult, saveAutoTopUp } from '../../notifications/autotopup.js';
import { autoTopUpFromBody } from '../../notifications/autotopup-body.js';
import { deleteAutoTopUp, readAutoTopUp } from '../../notifications/autotopup-read.js';
import { MAX_NOTICE_DAYS, RuleError, ruleFromBody, type Rule } from '../../notifications/rules.js';
import { deleteRule, readRules, saveRule } from '../../notifications/store.js';
import { nanoToDecimal } from '../../rating/money.js';
import { AppError } from '../errors.js';
import { dunningRoutes } from './dunning.js';
import { Id } from './account-schemas.js';

export interface NotificationDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
}

const Reference = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@/+-]+$' });
const Amount = Type.String({ minLength: 1, maxLength: 40, description: 'a decimal, e.g. "5.00"' });
const RuleParams = Type.Object({ code: Id });
const AccountParams = Type.Object({ accountId: Id });

const RuleBody = Type.Object(
  {
    kind: Type.String({ maxLength: 40, description: 'money_below, money_exhausted or bundle_used_pct' }),
    amount: Type.Optional(Amount),
    percent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_NOTICE_DAYS })),
    accountId: Type.Optional(Id),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const AutoTopUpBody = Type.Object(
  {
    reference: Reference,
    balanceId: Type.Optional(Id),
    threshold: Amount,
    amount: Type.Optional(Amount),
    target: Type.Optional(Amount),
    maxPerDay: Type.Integer({ minimum: 1, maximum: 100 }),
    maxPerMonth: Type.Integer({ minimum: 1, maximum: 1000 }),
  },
  { additionalProperties: false },
);

const ResultBody = Type.Object(
  {
    requestId: Type.String({ minLength: 36, maxLength: 36, format: 'uuid' }),
    outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    reference: Reference,
  },
  { additionalProperties: false },
);

const billing = { roles: ['billing' as const] };

/** A body the pure rules refuse, as the catalog's 400 naming the field. */
function parsed<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof RuleError)
      throw new AppError('INVALID_REQUEST', `${err.param}: ${err.message}`, {
        invalidParams: [{ param: err.param, reason: err.message }],
      });
    throw err;
  }
}

const present = (r: Rule) => ({
  code: r.code,
  kind: r.kind,
  accountId: r.accountId,
  enabled: r.enabled,
  ...(r.amountNano !== undefined ? { amount: nanoToDecimal(r.amountNano) } : {}),
  ...(r.percent !== undefined ? { percent: r.percent } : {}),
  ...(r.days !== undefined ? { days: r.days } : {}),
});

export function notificationRoutes(app: FastifyInstance, deps: NotificationDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { pool, schema } = deps;
  dunningRoutes(app, deps);
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  const mustExist = async (req: FastifyRequest, accountId: string) => {
    const a = await deps.balances.accountInfo(tenant(req), accountId);
    if (!a) throw new AppError('ACCOUNT_NOT_FOUND');
    return a;
  };

  r.put(
    '/v1/notification-rules/:code',
    {
      config: billing,
      schema: {
        summary: 'Create or replace a notification rule',
        tags: ['notifications'],
        params: RuleParams,
        body: RuleBody,
      },
    },
    async (req) => {
      const rule = parsed(() => ruleFromBody(req.params.code, req.body));
      if (rule.accountId !== null) await mustExist(req, rule.accountId);
      await saveRule(pool, schema, tenant(req), rule);
      return present(rule);
    },
  );

  r.get(
    '/v1/notification-rules',
    { config: billing, schema: { summary: "The tenant's notification rules", tags: ['notifications'] } },
    async (req) => ({ rules: (await readRules(pool, schema, tenant(req))).map(present) }),
  );

  r.get(
    '/v1/notification-rules/:code',
    {
      config: billing,
      schema: { summary: 'One notification rule', tags: ['notifications'], params: RuleParams },
    },
    async (req) => {
      const [rule] = await readRules(pool, schema, tenant(req), req.params.code);
      if (!rule) throw new AppError('NOT_FOUND', 'no such notification rule');
      return present(rule);
    },
  );

  r.delete(
    '/v1/notification-rules/:code',
    {
      config: billing,
      schema: { summary: 'Remove a notification rule', tags: ['notifications'], params: RuleParams },
    },
    async (req, reply) => {
      await deleteRule(pool, schema, tenant(req), req.params.code);
      return reply.status(204).send();
    },
  );

  r.put(
    '/v1/accounts/:accountId/auto-topup',
    {
      config: billing,
      schema: {
        summary: "Set a prepaid account's auto top-up, once per reference",
        tags: ['notifications'],
        params: AccountParams,
        body: AutoTopUpBody,
      },
    },
    async (req) => {
      const settings = parsed(() => autoTopUpFromBody(req.body));
      const account = await mustExist(req, req.params.accountId);
      if (account.type !== 'prepaid')
        throw new AppError('INVALID_REQUEST', 'auto top-up is for prepaid accounts', {
          invalidParams: [{ param: '/accountId', reason: 'is a postpaid account' }],
        });
      const outcome = await saveAutoTopUp(pool, schema, tenant(req), req.params.accountId, settings);
      if (outcome === 'conflict')
        throw new AppError('CONFLICT', 'this reference set other auto top-up settings');
      return {
        ...(await readAutoTopUp(pool, schema, tenant(req), req.params.accountId)),
        replayed: outcome === 'replayed',
      };
    },
  );

  r.get(
    '/v1/accounts/:accountId/auto-topup',
    {
      config: billing,
      schema: { summary: "An account's auto top-up", tags: ['notifications'], params: AccountParams },
    },
    async (req) => {
      await mustExist(req, req.params.accountId);
      const view = await readAutoTopUp(pool, schema, tenant(req), req.params.accountId);
      if (!view) throw new AppError('NOT_FOUND', 'this account has no auto top-up');
      return view;
    },
  );

  r.delete(
    '/v1/accounts/:accountId/auto-topup',
    {
      config: billing,
      schema: { summary: "Remove an account's auto top-up", tags: ['notifications'], params: AccountParams },
    },
    async (req, reply) => {
      await mustExist(req, req.params.accountId);
      await deleteAutoTopUp(pool, schema, tenant(req), req.params.accountId);
      return reply.status(204).send();
    },
  );

  r.post(
    '/v1/accounts/:accountId/auto-topup/results',
    {
      config: billing,
      schema: {
        summary: 'The CRM reports how a top-up request ended (moves no money), once per request',
        tags: ['notifications'],
        params: AccountParams,
        body: ResultBody,
      },
    },
    async (req) => {
      await mustExist(req, req.params.accountId);
      const outcome = await reportResult(pool, schema, tenant(req), req.params.accountId, req.body);
      if (outcome === 'unknown') throw new AppError('NOT_FOUND', 'no such top-up request on this account');
      if (outcome === 'conflict')
        throw new AppError('CONFLICT', 'this request was reported with another result');
      const view = await readAutoTopUp(pool, schema, tenant(req), req.params.accountId);
      return {
        requestId: req.body.requestId,
        outcome: req.body.outcome,
        replayed: outcome === 'replayed',
        autoTopUp: view,
      };
    },
  );
}
