/**
 * Taxes (dated rates, 422 TAX_RATE_OVERLAP), tax profiles (422 UNKNOWN_TAX_CODE), coupons, and a
 * coupon's redemption by an account (404 COUPON_NOT_FOUND, 422 COUPON_EXPIRED / COUPON_EXHAUSTED,
 * 409 COUPON_ALREADY_REDEEMED; a retry under the same reference answers the first redemption).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { putCoupon, redeem } from '../../billing/plans/coupons.js';
import { inTransaction, type PlansDeps } from '../../billing/plans/db.js';
import { PlansError } from '../../billing/plans/errors.js';
import { putTax, putTaxProfile } from '../../billing/plans/taxes.js';
import { Id, Reference } from './account-schemas.js';
import { Code, DateText, MoneyByCurrency, planCall } from './plan-service.js';

const Tax = Type.Object(
  {
    rate: Type.String({ maxLength: 12, description: 'a fraction, e.g. "0.20", at most 6 decimals' }),
    validFrom: DateText,
    validTo: Type.Optional(DateText),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    legalText: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    reference: Type.Optional(Reference),
  },
  { additionalProperties: false },
);

const UsageKey = Type.String({ pattern: '^(fee|one_off|[a-z_]+:[A-Za-z0-9_*-]+)$', maxLength: 64 });
const TaxProfile = Type.Object(
  {
    mapping: Type.Record(UsageKey, Code, { maxProperties: 256 }),
    inclusive: Type.Optional(Type.Boolean()),
    reference: Type.Optional(Reference),
  },
  { additionalProperties: false },
);

const Coupon = Type.Object(
  {
    kind: Type.Union([Type.Literal('percent'), Type.Literal('fixed')]),
    percent: Type.Optional(Type.String({ maxLength: 12 })),
    amounts: Type.Optional(MoneyByCurrency),
    duration: Type.Union([Type.Literal('once'), Type.Literal('repeating'), Type.Literal('forever')]),
    periods: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
    plans: Type.Optional(Type.Array(Code, { maxItems: 64 })),
    maxRedemptions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    reference: Type.Optional(Reference),
  },
  { additionalProperties: false },
);

export function billingCatalogRoutes(app: FastifyInstance, deps: PlansDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  const billing = { roles: ['billing' as const] };
  const { pool, schema } = deps;
  const Params = Type.Object({ code: Code });

  r.put(
    '/v1/taxes/:code',
    {
      config: billing,
      schema: { summary: 'A dated rate of a tax code', tags: ['taxes'], params: Params, body: Tax },
    },
    (req) => {
      const b = req.body;
      return planCall(() =>
        putTax(pool, schema, tenant(req), {
          code: req.params.code,
          rate: b.rate,
          validFrom: b.validFrom,
          validTo: b.validTo ?? null,
          category: b.category ?? 'standard',
          legalText: b.legalText ?? null,
        }),
      );
    },
  );

  r.put(
    '/v1/tax-profiles/:code',
    {
      config: billing,
      schema: {
        summary: 'Which tax code fees, one-offs and usage (tor:category) take',
        tags: ['taxes'],
        params: Params,
        body: TaxProfile,
      },
    },
    (req) =>
      planCall(() =>
        putTaxProfile(pool, schema, tenant(req), {
          code: req.params.code,
          mapping: req.body.mapping,
          inclusive: req.body.inclusive ?? false,
        }),
      ),
  );

  r.put(
    '/v1/coupons/:code',
    {
      config: billing,
      schema: {
        summary: 'Create or change a coupon (until first redeemed)',
        tags: ['coupons'],
        params: Params,
        body: Coupon,
      },
    },
    (req) => {
      const { reference: _reference, ...body } = req.body;
      return planCall(() => putCoupon(pool, schema, tenant(req), req.params.code, body));
    },
  );

  r.post(
    '/v1/accounts/:accountId/coupons',
    {
      config: billing,
      schema: {
        summary: 'Redeem a coupon for an account (applies to its fees before tax)',
        tags: ['coupons'],
        params: Type.Object({ accountId: Id }),
        body: Type.Object({ code: Code, reference: Reference }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const { accountId } = req.params;
      const account = await deps.balances.accountInfo(tenant(req), accountId);
      const out = await planCall(async () => {
        if (!account) throw new PlansError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
        return inTransaction(pool, (c) =>
          redeem(c, schema, {
            tenant: tenant(req),
            accountId,
            currency: account.currency,
            code: req.body.code,
            reference: req.body.reference,
            nowMs: deps.now(),
          }),
        );
      });
      if (out.replayed) reply.header('Idempotent-Replayed', 'true');
      reply.status(out.replayed ? 200 : 201);
      return out;
    },
  );
}
