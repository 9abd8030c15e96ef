/**
 * Provisioning (billing staff, the CRM) and self-care reads. Every write carries the caller's
 * reference (required): the balance store's operation id, so a retried request changes nothing and
 * returns the first answer; the same reference with another request is a 409. A refused request
 * (4xx) changes nothing and is not remembered, so a corrected retry may reuse its reference.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { OpResult } from '../../balances/snapshot.js';
import { refusalName } from '../../balances/codes.js';
import type { BalanceStore } from '../../balances/store.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';
import { presentAccount, presentValue } from '../present.js';
import {
  AccountPatch,
  amountOf,
  BalancePatch,
  Credit,
  Debit,
  Id,
  NewAccount,
  NewBalance,
  ReferenceQuery,
  Subscription,
  SubscriptionType,
  timeOf,
} from './account-schemas.js';

const AccountParams = Type.Object({ accountId: Id });

/**
 * The operation id of a provisioning write. Credits and debits keep the ids they always had (a
 * retry across an upgrade must find its first answer); every other write is `ref:` + reference.
 */
const opOf = (reference: string) => `ref:${reference}`;

/** Store codes that mean "the request cannot be done" map to problems; OK answers pass through. */
function answer(r: OpResult) {
  if (r.code === 'OK')
    return {
      result: r.code,
      replayed: r.replayed,
      movements: r.movements.map((m) => ({
        ...m,
        delta: presentValue(m.unit, m.delta),
        heldDelta: presentValue(m.unit, m.heldDelta),
        valueAfter: presentValue(m.unit, m.valueAfter),
      })),
    };
  if (r.code === 'ACCOUNT_NOT_FOUND') throw new AppError('ACCOUNT_NOT_FOUND');
  if (r.code === 'CONFLICT') throw new AppError('CONFLICT');
  if (r.code === 'INSUFFICIENT')
    throw new AppError('INSUFFICIENT_CREDIT', undefined, { result: refusalName(r.code) });
  throw new AppError('INVALID_REQUEST', `${r.code}${r.detail ? `: ${r.detail}` : ''}`, { result: r.code });
}

export function accountRoutes(app: FastifyInstance, store: BalanceStore): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  const billing = { roles: ['billing' as const] };

  r.delete(
    '/v1/accounts/:accountId/subscriptions/:type/:value',
    {
      config: billing,
      schema: {
        summary: 'Take an msisdn, imsi or other id off an account (frees it for another)',
        tags: ['accounts'],
        params: Type.Object({ accountId: Id, type: SubscriptionType, value: Id }),
        querystring: ReferenceQuery,
      },
    },
    async (req) => {
      const { accountId, type, value } = req.params;
      return answer(
        await store.removeSubscription(tenant(req), accountId, { type, value }, opOf(req.query.reference)),
      );
    },
  );

  r.post(
    '/v1/accounts',
    { config: billing, schema: { summary: 'Create an account', tags: ['accounts'], body: NewAccount } },
    async (req, reply) => {
      const b = req.body;
      const res = await store.createAccount(
        {
          tenant: tenant(req),
          id: b.id,
          type: b.type,
          currency: b.currency,
          subject: b.subject,
          creditLimitNano: b.creditLimit ? amountOf('money', b.creditLimit, 'creditLimit') : 0,
          sharedGroup: b.sharedGroup ?? null,
          subscriptions: b.subscriptions ?? [],
        },
        opOf(b.reference),
      );
      if (res.code === 'ACCOUNT_EXISTS' || res.code === 'SUBSCRIPTION_TAKEN')
        throw new AppError('CONFLICT', res.code + (res.detail ? `: ${res.detail}` : ''), {
          result: res.code,
        });
      answer(res);
      const v = await store.getAccount(tenant(req), b.id);
      if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
      reply.status(201);
      return presentAccount(v);
    },
  );

  r.get(
    '/v1/accounts/:accountId',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: {
        summary: 'An account with its balances and open reservations',
        tags: ['accounts'],
        params: AccountParams,
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      const v = await store.getAccount(tenant(req), req.params.accountId);
      if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
      return presentAccount(v);
    },
  );

  r.get(
    '/v1/me',
    {
      config: { roles: ['selfcare'] },
      schema: { summary: "The caller's own account (self-care)", tags: ['self-care'] },
    },
    async (req) => {
      const v = await store.getAccount(tenant(req), req.principal.accountId!);
      if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
      return presentAccount(v);
    },
  );

  r.patch(
    '/v1/accounts/:accountId',
    {
      config: billing,
      schema: {
        summary: 'Suspend, reactivate or close an account; change its credit limit or rating subject',
        tags: ['accounts'],
        params: AccountParams,
        body: AccountPatch,
      },
    },
    async (req) => {
      const { reference, creditLimit, ...rest } = req.body;
      const patch = {
        ...rest,
        ...(creditLimit ? { creditLimitNano: amountOf('money', creditLimit, 'creditLimit') } : {}),
      };
      answer(await store.updateAccount(tenant(req), req.params.accountId, patch, opOf(reference)));
      const v = await store.getAccount(tenant(req), req.params.accountId);
      if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
      return presentAccount(v);
    },
  );

  r.post(
    '/v1/accounts/:accountId/subscriptions',
    {
      config: billing,
      schema: {
        summary: 'Add an msisdn, imsi or other id to an account',
        tags: ['accounts'],
        params: AccountParams,
        body: Subscription,
      },
    },
    async (req) => {
      const { type, value, reference } = req.body;
      const res = await store.addSubscription(
        tenant(req),
        req.params.accountId,
        { type, value },
        opOf(reference),
      );
      if (res.code === 'SUBSCRIPTION_TAKEN')
        throw new AppError('CONFLICT', `SUBSCRIPTION_TAKEN: ${res.detail}`, { result: res.code });
      return answer(res);
    },
  );

  r.post(
    '/v1/accounts/:accountId/balances',
    {
      config: billing,
      schema: {
        summary: 'Add a balance or bundle',
        tags: ['balances'],
        params: AccountParams,
        body: NewBalance,
      },
    },
    async (req, reply) => {
      const b = req.body;
      const res = await store.addBalance(
        tenant(req),
        req.params.accountId,
        {
          id: b.id,
          unit: b.unit,
          value: amountOf(b.unit, b.value, 'value'),
          weight: b.weight ?? 0,
          activationMs: b.activation ? timeOf(b.activation, 'activation') : 0,
          expiryMs: b.expiry ? timeOf(b.expiry, 'expiry') : null,
          destinations: b.destinations ?? [],
          ratingGroups: b.ratingGroups ?? [],
          categories: b.categories ?? [],
          shared: b.shared ?? false,
          blocker: b.blocker ?? false,
          ratingSubject: b.ratingSubject ?? '',
        },
        opOf(b.reference),
      );
      const out = answer(res);
      reply.status(201);
      return out;
    },
  );

  r.delete(
    '/v1/accounts/:accountId/balances/:balanceId',
    {
      config: billing,
      schema: {
        summary: 'Remove a balance (its value leaves through the ledger)',
        tags: ['balances'],
        params: Type.Object({ accountId: Id, balanceId: Id }),
        querystring: ReferenceQuery,
      },
    },
    async (req) => {
      const { accountId, balanceId } = req.params;
      const res = await store.removeBalance(tenant(req), accountId, balanceId, opOf(req.query.reference));
      if (res.code === 'BALANCE_NOT_FOUND') throw new AppError('NOT_FOUND', `no balance ${balanceId}`);
      return answer(res);
    },
  );

  r.patch(
    '/v1/accounts/:accountId/balances/:balanceId',
    {
      config: billing,
      schema: {
        summary: 'Change a balance: weight, validity, filters',
        tags: ['balances'],
        params: Type.Object({ accountId: Id, balanceId: Id }),
        body: BalancePatch,
      },
    },
    async (req) => {
      const { reference, activation, expiry, ...rest } = req.body;
      const patch = {
        ...rest,
        ...(activation ? { activationMs: timeOf(activation, 'activation') } : {}),
        ...(expiry !== undefined ? { expiryMs: expiry === null ? null : timeOf(expiry, 'expiry') } : {}),
      };
      const res = await store.updateBalance(
        tenant(req),
        req.params.accountId,
        req.params.balanceId,
        patch,
        opOf(reference),
      );
      if (res.code === 'BALANCE_NOT_FOUND')
        throw new AppError('NOT_FOUND', `no balance ${req.params.balanceId}`);
      return answer(res);
    },
  );

  r.post(
    '/v1/accounts/:accountId/debits',
    {
      config: billing,
      schema: {
        summary: 'Take money off an account (a negative adjustment, a fee), once per reference',
        tags: ['balances'],
        params: AccountParams,
        body: Debit,
      },
    },
    async (req) => {
      const amountNano = amountOf('money', req.body.amount, 'amount', true);
      return answer(
        await store.debit(tenant(req), req.params.accountId, {
          opId: `debit:${req.body.reference}`,
          kind: 'adjust',
          charge: { unit: 'generic', units: 0, amountNano },
        }),
      );
    },
  );

  r.post(
    '/v1/accounts/:accountId/credits',
    {
      config: billing,
      schema: {
        summary: 'Top up, refund or adjust a balance, once per reference',
        tags: ['balances'],
        params: AccountParams,
        body: Credit,
      },
    },
    async (req) => {
      const v = await store.getAccount(tenant(req), req.params.accountId);
      if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
      const balance = v.balances.find((x) => x.id === req.body.balanceId);
      if (!balance) throw new AppError('INVALID_REQUEST', `no balance ${req.body.balanceId}`);
      return answer(
        await store.credit(tenant(req), req.params.accountId, {
          opId: `credit:${req.body.reference}`,
          balanceId: balance.id,
          amount: amountOf(balance.unit, req.body.amount, 'amount', true),
          kind: req.body.kind ?? 'topup',
          shared: balance.shared,
        }),
      );
    },
  );
}
