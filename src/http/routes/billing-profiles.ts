/**
 * The seller (PUT /v1/billing-entity) and each account's billing profile: time zone (IANA), bill
 * cycle day 1-31, invoice mode, tax profile, payment terms, series, grace, auto-finalize, buyer.
 * A profile left out is the default one (docs/BILLING.md); a customer reads its own.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { PlansDeps } from '../../billing/plans/db.js';
import { getProfile, putEntity, putProfile } from '../../billing/plans/profiles.js';
import { assertOwnAccount } from '../auth.js';
import { Id, Reference } from './account-schemas.js';
import { Code, planCall } from './plan-service.js';

const Text = Type.String({ minLength: 1, maxLength: 200 });
const Zone = Type.String({ minLength: 1, maxLength: 64 });
const Country = Type.String({ pattern: '^[A-Z]{2}$' });
const Address = Type.Array(Text, { maxItems: 6 });

const Entity = Type.Object(
  {
    legalName: Text,
    address: Type.Optional(Address),
    country: Type.Optional(Country),
    taxId: Type.Optional(Text),
    defaultTimezone: Type.Optional(Zone),
    defaultTaxProfile: Type.Optional(Code),
    roundingMode: Type.Optional(Type.Union([Type.Literal('per_rate'), Type.Literal('per_line')])),
    reference: Type.Optional(Reference),
  },
  { additionalProperties: false },
);

const Profile = Type.Object(
  {
    timezone: Type.Optional(Zone),
    billCycleDay: Type.Optional(Type.Integer({ minimum: 1, maximum: 31 })),
    invoiceMode: Type.Optional(
      Type.Union([Type.Literal('invoice'), Type.Literal('statement'), Type.Literal('none')]),
    ),
    taxProfile: Type.Optional(Type.Union([Code, Type.Null()])),
    paymentTermsDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
    series: Type.Optional(Type.Union([Code, Type.Null()])),
    graceHours: Type.Optional(Type.Integer({ minimum: 0, maximum: 240 })),
    autoFinalize: Type.Optional(Type.Boolean()),
    buyer: Type.Optional(
      Type.Object(
        {
          legalName: Type.Optional(Text),
          address: Type.Optional(Address),
          country: Type.Optional(Country),
          taxId: Type.Optional(Text),
        },
        { additionalProperties: false },
      ),
    ),
    exemptReason: Type.Optional(Type.Union([Text, Type.Null()])),
    reverseCharge: Type.Optional(Type.Boolean()),
    /** When billing starts (the first bill period opens), with its offset: an account migrated mid-cycle. */
    billingSince: Type.Optional(
      Type.String({
        maxLength: 40,
        pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$',
      }),
    ),
    reference: Type.Optional(Reference),
  },
  { additionalProperties: false },
);

export function billingProfileRoutes(app: FastifyInstance, deps: PlansDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  const billing = { roles: ['billing' as const] };
  const Params = Type.Object({ accountId: Id });

  r.put(
    '/v1/billing-entity',
    {
      config: billing,
      schema: {
        summary: 'The seller printed on invoices, default zone, tax profile, rounding',
        tags: ['billing'],
        body: Entity,
      },
    },
    (req) => {
      const b = req.body;
      return planCall(() =>
        putEntity(deps.pool, deps.schema, tenant(req), {
          legalName: b.legalName,
          address: b.address ?? [],
          country: b.country ?? null,
          taxId: b.taxId ?? null,
          defaultTimezone: b.defaultTimezone ?? 'UTC',
          defaultTaxProfile: b.defaultTaxProfile ?? null,
          roundingMode: b.roundingMode ?? 'per_rate',
        }),
      );
    },
  );

  r.put(
    '/v1/accounts/:accountId/billing',
    {
      config: billing,
      schema: {
        summary: "Create or change an account's billing profile (fields left out keep their value)",
        tags: ['billing'],
        params: Params,
        body: Profile,
      },
    },
    (req) => {
      const { reference: _reference, ...patch } = req.body;
      return planCall(() => putProfile(deps, tenant(req), req.params.accountId, patch));
    },
  );

  r.get(
    '/v1/accounts/:accountId/billing',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: { summary: "An account's billing profile", tags: ['billing'], params: Params },
    },
    (req) => {
      assertOwnAccount(req, req.params.accountId);
      return planCall(() => getProfile(deps, tenant(req), req.params.accountId));
    },
  );
}
