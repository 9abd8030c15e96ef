/**
 * The plan catalog and plan assignments (billing staff; a customer reads its own assignments).
 * PUT of a plan creates its next version (validated whole: 422 INVALID_PLAN lists every problem);
 * the same body again answers the version it made. Assigning takes a `reference`: a retry answers
 * the first assignment (`Idempotent-Replayed: true`), another body under it is a 409.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { assignPlan, listAssignments, priceOf, type AssignmentRow } from '../../billing/plans/assignments.js';
import { getPlan, listPlans, putPlan } from '../../billing/plans/catalog.js';
import { cancelAssignment, changeAssignment } from '../../billing/plans/changes.js';
import { formatMoney } from '../../billing/core/currency.js';
import type { PlansDeps } from '../../billing/plans/db.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';
import { Id, Reference, timeOf } from './account-schemas.js';
import { Code, planCall } from './plan-service.js';

const Assign = Type.Object(
  {
    plan: Code,
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    startAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    coupons: Type.Optional(Type.Array(Code, { maxItems: 8, uniqueItems: true })),
    reference: Reference,
  },
  { additionalProperties: false },
);

const AssignmentParams = Type.Object({
  accountId: Id,
  assignmentId: Type.String({ format: 'uuid', maxLength: 36 }),
});

const Change = Type.Object(
  {
    plan: Type.Optional(Code),
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    effective: Type.Union([Type.Literal('now'), Type.Literal('period_end')]),
    reference: Reference,
  },
  { additionalProperties: false },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function present(a: AssignmentRow, next?: { amount: string; currency: string }) {
  const open = a.status === 'active' || a.status === 'unpaid';
  return {
    id: a.id,
    accountId: a.account_id,
    seq: a.seq,
    plan: a.plan_code,
    version: a.plan_version,
    quantity: a.quantity,
    status: a.status,
    startAt: iso(a.start_at),
    endAt: iso(a.end_at),
    currentPeriodStart: iso(a.current_period_start),
    currentPeriodEnd: iso(a.current_period_end),
    nextRenewalAt: open && !(a.end_at && a.end_at <= a.current_period_end) ? iso(a.current_period_end) : null,
    ...(next && open ? { nextAmount: next.amount, currency: next.currency } : {}),
    unpaidSince: iso(a.unpaid_since),
    reference: a.reference,
  };
}

export function planRoutes(app: FastifyInstance, deps: PlansDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  const billing = { roles: ['billing' as const] };
  const { pool, schema } = deps;

  r.put(
    '/v1/plans/:code',
    {
      config: billing,
      schema: {
        summary: 'Create the next version of a plan (the same body again answers the version it made)',
        tags: ['plans'],
        params: Type.Object({ code: Code }),
        body: Type.Object({}, { additionalProperties: true }),
      },
    },
    async (req, reply) => {
      const out = await planCall(() => putPlan(pool, schema, tenant(req), req.params.code, req.body));
      reply.status(out.created ? 201 : 200);
      return out.plan;
    },
  );

  r.get(
    '/v1/plans',
    {
      config: billing,
      schema: { summary: 'The catalog: the latest version of every plan', tags: ['plans'] },
    },
    async (req) => ({ plans: await listPlans(pool, schema, tenant(req)) }),
  );

  r.get(
    '/v1/plans/:code',
    {
      config: billing,
      schema: {
        summary: 'A plan (its latest version, or ?version=)',
        tags: ['plans'],
        params: Type.Object({ code: Code }),
        querystring: Type.Object(
          { version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) },
          { additionalProperties: false },
        ),
      },
    },
    (req) => planCall(() => getPlan(pool, schema, tenant(req), req.params.code, req.query.version)),
  );

  r.post(
    '/v1/accounts/:accountId/plans',
    {
      config: billing,
      schema: {
        summary: 'Assign a plan: setup fee, prorated first period (net of coupons) and bundles',
        tags: ['plans'],
        params: Type.Object({ accountId: Id }),
        body: Assign,
      },
    },
    async (req, reply) => {
      const b = req.body;
      const out = await planCall(() =>
        assignPlan(deps, tenant(req), req.params.accountId, {
          plan: b.plan,
          ...(b.version ? { version: b.version } : {}),
          quantity: b.quantity ?? 1,
          ...(b.startAt ? { startAt: timeOf(b.startAt, 'startAt') } : {}),
          coupons: b.coupons ?? [],
          reference: b.reference,
        }),
      );
      if (out.replayed) reply.header('Idempotent-Replayed', 'true');
      reply.status(out.replayed ? 200 : 201);
      return present(out.assignment);
    },
  );

  r.get(
    '/v1/accounts/:accountId/plans',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: {
        summary: "An account's plans with their next renewal",
        tags: ['plans'],
        params: Type.Object({ accountId: Id }),
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      const account = await deps.balances.accountInfo(tenant(req), req.params.accountId);
      if (!account) throw new AppError('ACCOUNT_NOT_FOUND');
      const rows = await listAssignments(deps, tenant(req), req.params.accountId);
      const out = [];
      for (const a of rows) {
        const plan = await planCall(() => getPlan(pool, schema, tenant(req), a.plan_code, a.plan_version));
        const currency = account.currency;
        const next =
          currency && plan.body.prices[currency]
            ? { amount: formatMoney(priceOf(plan, currency) * BigInt(a.quantity), currency), currency }
            : undefined;
        out.push(present(a, next));
      }
      return { assignments: out };
    },
  );

  r.patch(
    '/v1/accounts/:accountId/plans/:assignmentId',
    {
      config: billing,
      schema: {
        summary:
          'Change plan or quantity now (unused fee credited, the rest charged, bundles replaced) or at period end',
        tags: ['plans'],
        params: AssignmentParams,
        body: Change,
      },
    },
    async (req, reply) => {
      const { plan, version, quantity, effective, reference } = req.body;
      const out = await planCall(() =>
        changeAssignment(deps, tenant(req), req.params.accountId, req.params.assignmentId, {
          ...(plan ? { plan } : {}),
          ...(version ? { version } : {}),
          ...(quantity ? { quantity } : {}),
          effective,
          reference,
        }),
      );
      if (out.replayed) reply.header('Idempotent-Replayed', 'true');
      return present(out.assignment);
    },
  );

  r.delete(
    '/v1/accounts/:accountId/plans/:assignmentId',
    {
      config: billing,
      schema: {
        summary:
          'Cancel an assignment now (bundles removed, unused fee refunded if asked) or at its period end',
        tags: ['plans'],
        params: AssignmentParams,
        querystring: Type.Object(
          {
            reference: Reference,
            effective: Type.Optional(Type.Union([Type.Literal('now'), Type.Literal('period_end')])),
            refundUnused: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) =>
      present(
        await planCall(() =>
          cancelAssignment(
            deps,
            tenant(req),
            req.params.accountId,
            req.params.assignmentId,
            req.query.effective ?? 'period_end',
            req.query.refundUnused === true,
          ),
        ),
      ),
  );
}
