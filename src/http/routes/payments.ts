/**
 * Payments recorded by the billing system (issue 14; docs/PAYMENTS.md): record one, refund one, read
 * an account's. Money moves once per `reference`; a customer (self-care key) reads its own only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { PaymentDeps } from '../../payments/deps.js';
import { PaymentError } from '../../payments/errors.js';
import { accountPayments, paymentById, present } from '../../payments/rows.js';
import { moneyOf, recordPayment, refundPayment } from '../../payments/service.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';
import { Id } from './account-schemas.js';

const Reference = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@/+-]+$' });
const Amount = Type.String({ minLength: 1, maxLength: 40, description: 'a decimal, e.g. "15.00"' });
const Uuid = Type.String({ minLength: 36, maxLength: 36 });
const AccountParams = Type.Object({ accountId: Id });
const PaymentParams = Type.Object({ paymentId: Uuid });

const PaymentBody = Type.Object(
  {
    reference: Reference,
    amount: Amount,
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    method: Type.Optional(
      Type.Union(['card', 'bank', 'cash', 'voucher', 'other'].map((m) => Type.Literal(m))),
    ),
    receivedAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    allocations: Type.Optional(
      Type.Array(Type.Object({ invoiceId: Uuid, amount: Amount }, { additionalProperties: false }), {
        maxItems: 100,
      }),
    ),
  },
  { additionalProperties: false },
);

const RefundBody = Type.Object({ reference: Reference, amount: Amount }, { additionalProperties: false });

/** A refusal of the service, in the catalog's words. */
async function refusing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PaymentError)
      throw new AppError(
        err.code,
        err.message,
        err.invalidParams ? { invalidParams: err.invalidParams } : {},
      );
    throw err;
  }
}

const billing = { roles: ['billing' as const] };
const readers = { roles: ['billing' as const, 'selfcare' as const] };

export function paymentRoutes(app: FastifyInstance, deps: PaymentDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;

  r.post(
    '/v1/accounts/:accountId/payments',
    {
      config: billing,
      schema: {
        summary: 'Record a payment received, once per reference',
        tags: ['payments'],
        params: AccountParams,
        body: PaymentBody,
      },
    },
    async (req, reply) => {
      const b = req.body;
      const answer = await refusing(() => {
        const allocations = b.allocations?.map((a, i) => {
          try {
            return { invoiceId: a.invoiceId, amountNano: moneyOf(a.amount, b.currency) };
          } catch (err) {
            const reason = (err as Error).message;
            throw new PaymentError('INVALID_REQUEST', reason, [
              { param: `/allocations/${i}/amount`, reason },
            ]);
          }
        });
        return recordPayment(deps, tenant(req), req.params.accountId, {
          reference: b.reference,
          amountNano: moneyOf(b.amount, b.currency),
          currency: b.currency,
          method: b.method ?? 'other',
          ...(b.receivedAt ? { receivedAt: new Date(b.receivedAt) } : {}),
          ...(allocations ? { allocations } : {}),
        });
      });
      return reply.status(201).send(answer);
    },
  );

  r.post(
    '/v1/payments/:paymentId/refunds',
    {
      config: billing,
      schema: {
        summary: "Refund part of a payment's unapplied credit, once per reference",
        tags: ['payments'],
        params: PaymentParams,
        body: RefundBody,
      },
    },
    async (req, reply) => {
      const answer = await refusing(() => refundPayment(deps, tenant(req), req.params.paymentId, req.body));
      return reply.status(201).send(answer);
    },
  );

  r.get(
    '/v1/accounts/:accountId/payments',
    {
      config: readers,
      schema: {
        summary: "An account's payments and refunds, newest first (100)",
        tags: ['payments'],
        params: AccountParams,
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      if (!(await deps.balances.getAccount(tenant(req), req.params.accountId)))
        throw new AppError('ACCOUNT_NOT_FOUND');
      const rows = await accountPayments(deps.pool, deps.schema, tenant(req), req.params.accountId, 100);
      return { payments: await present(deps.pool, deps.schema, rows) };
    },
  );

  r.get(
    '/v1/payments/:paymentId',
    {
      config: readers,
      schema: { summary: 'One payment or refund', tags: ['payments'], params: PaymentParams },
    },
    async (req) => {
      const p = await paymentById(deps.pool, deps.schema, tenant(req), req.params.paymentId);
      // A customer asking for another account's payment learns nothing of it.
      if (!p || (req.principal.role === 'selfcare' && p.accountId !== req.principal.accountId))
        throw new AppError('NOT_FOUND', 'no such payment');
      return (await present(deps.pool, deps.schema, [p]))[0];
    },
  );
}
