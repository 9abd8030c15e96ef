/**
 * Provisioning (billing staff, the CRM) and self-care reads. Every change carries a reference:
 * the balance store's operation id, so a retried request changes nothing and returns the first answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { OpResult } from '../../balances/snapshot.js';
import type { BalanceStore } from '../../balances/store.js';
import { decimalToNano } from '../../rating/money.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';
import { presentAccount, presentValue, toBase } from '../present.js';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:@+-]+$' });
const Decimal = Type.String({
  pattern: '^\\d+(\\.\\d{1,9})?$',
  description: 'a decimal amount, at most 9 decimals',
});
const Unit = Type.Union([
  Type.Literal('money'),
  Type.Literal('voice'),
  Type.Literal('data'),
  Type.Literal('sms'),
  Type.Literal('generic'),
]);
const Subscription = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 16, pattern: '^[a-z0-9_]+$' }), value: Id },
  { additionalProperties: false },
);
const AccountParams = Type.Object({ accountId: Id });

const NewAccount = Type.Object(
  {
    id: Id,
    type: Type.Union([Type.Literal('prepaid'), Type.Literal('postpaid')]),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    subject: Type.String({ minLength: 1 }),
    creditLimit: Type.Optional(Decimal),
    sharedGroup: Type.Optional(Id),
    subscriptions: Type.Optional(Type.Array(Subscription, { maxItems: 32 })),
  },
  { additionalProperties: false },
);

const NewBalance = Type.Object(
  {
    id: Id,
    unit: Unit,
    value: Type.Union([Decimal, Type.Number({ minimum: 0 })], {
      description: 'money: decimal string; voice: seconds; data: bytes; sms: messages',
    }),
    weight: Type.Optional(Type.Integer()),
    activation: Type.Optional(Type.String({ format: 'date-time' })),
    expiry: Type.Optional(Type.String({ format: 'date-time' })),
    destinations: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    ratingGroups: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
    categories: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    shared: Type.Optional(Type.Boolean()),
    reference: Type.Optional(Id),
  },
  { additionalProperties: false },
);

const Credit = Type.Object(
  {
    balanceId: Id,
    amount: Type.Union([Decimal, Type.Number({ exclusiveMinimum: 0 })]),
    kind: Type.Optional(Type.Union([Type.Literal('topup'), Type.Literal('refund'), Type.Literal('adjust')])),
    reference: Id,
  },
  { additionalProperties: false },
);

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
        summary: 'Take an msisdn, imsi or other id off an account',
        tags: ['accounts'],
        params: Type.Object({ accountId: Id, type: Subscription.properties.type, value: Id }),
      },
    },
    async (req) => {
      const sub = { type: req.params.type, value: req.params.value };
      return answer(
        await store.removeSubscription(
          tenant(req),
          req.params.accountId,
          sub,
          `unsubscribe:${sub.type}:${sub.value}`,
        ),
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
          creditLimitNano: b.creditLimit ? decimalToNano(b.creditLimit) : 0,
          sharedGroup: b.sharedGroup ?? null,
          subscriptions: b.subscriptions ?? [],
        },
        `create-account`,
      );
      if (res.code === 'ACCOUNT_EXISTS' || res.code === 'SUBSCRIPTION_TAKEN')
        throw new AppError('CONFLICT', res.code + (res.detail ? `: ${res.detail}` : ''));
      answer(res);
      reply.status(201);
      return presentAccount((await store.getAccount(tenant(req), b.id))!);
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
        body: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
            ),
            creditLimit: Type.Optional(Decimal),
            subject: Type.Optional(Type.String({ minLength: 1 })),
            reference: Id,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { reference, creditLimit, ...rest } = req.body;
      answer(
        await store.updateAccount(
          tenant(req),
          req.params.accountId,
          { ...rest, ...(creditLimit ? { creditLimitNano: decimalToNano(creditLimit) } : {}) },
          reference,
        ),
      );
      return presentAccount((await store.getAccount(tenant(req), req.params.accountId))!);
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
      const res = await store.addSubscription(
        tenant(req),
        req.params.accountId,
        req.body,
        `subscribe:${req.body.type}:${req.body.value}`,
      );
      if (res.code === 'SUBSCRIPTION_TAKEN')
        throw new AppError('CONFLICT', `SUBSCRIPTION_TAKEN: ${res.detail}`);
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
      const ms = (iso: string | undefined, field: string) => {
        if (iso === undefined) return undefined;
        const t = Date.parse(iso);
        if (Number.isNaN(t)) throw new AppError('INVALID_REQUEST', `${field} is not a time`);
        return t;
      };
      const res = await store.addBalance(
        tenant(req),
        req.params.accountId,
        {
          id: b.id,
          unit: b.unit,
          value: toBase(b.unit, b.value, 'value'),
          weight: b.weight ?? 0,
          activationMs: ms(b.activation, 'activation') ?? 0,
          expiryMs: ms(b.expiry, 'expiry') ?? null,
          destinations: b.destinations ?? [],
          ratingGroups: b.ratingGroups ?? [],
          categories: b.categories ?? [],
          shared: b.shared ?? false,
        },
        b.reference ?? `add-balance:${b.id}`,
      );
      reply.status(201);
      return answer(res);
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
      },
    },
    async (req) =>
      answer(
        await store.removeBalance(
          tenant(req),
          req.params.accountId,
          req.params.balanceId,
          `remove-balance:${req.params.balanceId}`,
        ),
      ),
  );

  r.patch(
    '/v1/accounts/:accountId/balances/:balanceId',
    {
      config: billing,
      schema: {
        summary: 'Change a balance: weight, validity, filters',
        tags: ['balances'],
        params: Type.Object({ accountId: Id, balanceId: Id }),
        body: Type.Object(
          {
            weight: Type.Optional(Type.Integer()),
            activation: Type.Optional(Type.String({ format: 'date-time' })),
            expiry: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            destinations: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
            ratingGroups: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
            categories: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
            reference: Id,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { reference, activation, expiry, ...rest } = req.body;
      const patch = {
        ...rest,
        ...(activation ? { activationMs: Date.parse(activation) } : {}),
        ...(expiry !== undefined ? { expiryMs: expiry === null ? null : Date.parse(expiry) } : {}),
      };
      const res = await store.updateBalance(
        tenant(req),
        req.params.accountId,
        req.params.balanceId,
        patch,
        `update-balance:${reference}`,
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
        body: Type.Object({ amount: Decimal, reference: Id }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const amountNano = decimalToNano(req.body.amount);
      if (amountNano === 0) throw new AppError('INVALID_REQUEST', 'amount must be more than 0');
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
      const amount = toBase(balance.unit, req.body.amount, 'amount');
      if (amount === 0) throw new AppError('INVALID_REQUEST', 'amount must be more than 0');
      return answer(
        await store.credit(tenant(req), req.params.accountId, {
          opId: `credit:${req.body.reference}`,
          balanceId: balance.id,
          amount,
          kind: req.body.kind ?? 'topup',
          shared: balance.shared,
        }),
      );
    },
  );
}
