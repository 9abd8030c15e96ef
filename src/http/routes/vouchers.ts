/**
 * Vouchers (issue 14; docs/VOUCHERS.md): billing staff make batches, download their PINs once, read
 * and block batches and vouchers; billing or the customer (self-care key, own account only) redeems
 * one. Another tenant's batch, voucher or account, and for a customer any other account, are 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { Type, type Static } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PlansError } from '../../billing/plans/errors.js';
import { createBatch, getBatch, listBatches, MAX_BATCH, setBatchBlocked } from '../../vouchers/batches.js';
import type { VoucherDeps } from '../../vouchers/deps.js';
import { takePins } from '../../vouchers/download.js';
import { VoucherError } from '../../vouchers/errors.js';
import { redeemVoucher } from '../../vouchers/redeem.js';
import { getVoucher, setVoucherBlocked } from '../../vouchers/serials.js';
import { AppError, ERRORS, type ErrorCode } from '../errors.js';
import { Id } from './account-schemas.js';

const Reference = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@/+-]+$' });
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const Serial = Type.String({ pattern: '^[0-9A-Z]{8}-[0-9]{7}$' });
const DateTime = Type.String({ format: 'date-time', maxLength: 40 });
const BatchParams = Type.Object({ batchId: Uuid });
const SerialParams = Type.Object({ serial: Serial });

const BatchBody = Type.Object(
  {
    reference: Reference,
    count: Type.Integer({ minimum: 1, maximum: MAX_BATCH }),
    value: Type.Union([
      Type.Object(
        {
          amount: Type.String({ maxLength: 40, pattern: '^\\d+(\\.\\d{1,9})?$' }),
          currency: Type.String({ pattern: '^[A-Z]{3}$' }),
        },
        { additionalProperties: false },
      ),
      Type.Object(
        {
          plan: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' }),
          version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        },
        { additionalProperties: false },
      ),
    ]),
    expiresAt: DateTime,
    validFrom: Type.Optional(DateTime),
  },
  { additionalProperties: false },
);

const RedeemBody = Type.Object(
  { pin: Type.String({ pattern: '^[0-9]{16}$' }), reference: Type.Optional(Reference) },
  { additionalProperties: false },
);

/** A refusal of the voucher or plans service as the catalog's problem (429 with its Retry-After). */
async function answering<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof VoucherError) {
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      throw new AppError(
        err.code,
        err.message,
        err.invalidParams ? { invalidParams: err.invalidParams } : {},
      );
    }
    if (err instanceof PlansError) {
      const code = (err.code in ERRORS ? err.code : 'INVALID_REQUEST') as ErrorCode;
      throw new AppError(code, err.message, err.extra);
    }
    throw err;
  }
}

const billing = { roles: ['billing' as const] };
const redeemers = { roles: ['billing' as const, 'selfcare' as const] };
const tags = ['vouchers'];

function batchRoutes(app: FastifyInstance, deps: VoucherDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  r.post(
    '/v1/voucher-batches',
    {
      config: billing,
      schema: { summary: 'Make a batch of vouchers, once per reference', tags, body: BatchBody },
    },
    async (req, reply) => {
      const { batch, replayed } = await answering(reply, () => createBatch(deps, tenant(req), req.body));
      return reply.status(batch.status === 'generating' ? 202 : 201).send({ ...batch, replayed });
    },
  );
  r.get(
    '/v1/voucher-batches',
    {
      config: billing,
      schema: {
        summary: "The tenant's batches, oldest first, 100 at most per page (follow nextCursor)",
        tags,
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.String({ pattern: '^([1-9]|[1-9][0-9]|100)$' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) =>
      answering(reply, () =>
        listBatches(deps, tenant(req), {
          ...(req.query.cursor !== undefined ? { cursor: req.query.cursor } : {}),
          limit: Number(req.query.limit ?? 20),
        }),
      ),
  );
  r.get(
    '/v1/voucher-batches/:batchId',
    { config: billing, schema: { summary: 'A batch and its vouchers by status', tags, params: BatchParams } },
    async (req, reply) => answering(reply, () => getBatch(deps, tenant(req), req.params.batchId)),
  );
  r.get(
    '/v1/voucher-batches/:batchId/pins.csv',
    {
      config: billing,
      schema: { summary: "The batch's serials and PINs, once (then 410)", tags, params: BatchParams },
    },
    async (req, reply) => {
      const chunks = await answering(reply, () => takePins(deps, tenant(req), req.params.batchId));
      return reply
        .type('text/csv; charset=utf-8')
        .header('Content-Disposition', `attachment; filename="vouchers-${req.params.batchId}.csv"`)
        .header('Cache-Control', 'no-store')
        .send(Readable.from(chunks));
    },
  );
  for (const [verb, blocked] of [
    ['block', true],
    ['unblock', false],
  ] as const)
    r.post(
      `/v1/voucher-batches/:batchId/${verb}`,
      {
        config: billing,
        schema: { summary: `${verb} every unredeemed voucher of the batch`, tags, params: BatchParams },
      },
      async (req, reply) =>
        answering(reply, () => setBatchBlocked(deps, tenant(req), req.params.batchId, blocked)),
    );
}

function serialRoutes(app: FastifyInstance, deps: VoucherDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tenant = (req: FastifyRequest) => req.principal.tenant;
  r.get(
    '/v1/vouchers/:serial',
    {
      config: billing,
      schema: { summary: 'A voucher by serial (never its PIN)', tags, params: SerialParams },
    },
    async (req, reply) => answering(reply, () => getVoucher(deps, tenant(req), req.params.serial)),
  );
  for (const [verb, blocked] of [
    ['block', true],
    ['unblock', false],
  ] as const)
    r.post(
      `/v1/vouchers/:serial/${verb}`,
      { config: billing, schema: { summary: `${verb} one unredeemed voucher`, tags, params: SerialParams } },
      async (req, reply) =>
        answering(reply, () => setVoucherBlocked(deps, tenant(req), req.params.serial, blocked)),
    );
  r.post(
    '/v1/accounts/:accountId/vouchers/redeem',
    {
      config: redeemers,
      schema: {
        summary: 'Redeem a voucher by PIN onto the account (a customer: their own)',
        tags,
        params: Type.Object({ accountId: Id }),
        body: RedeemBody,
      },
    },
    async (req, reply) => {
      const p = req.principal;
      // A customer naming another account learns nothing of it, not even that it exists.
      if (p.role === 'selfcare' && p.accountId !== req.params.accountId)
        throw new AppError('ACCOUNT_NOT_FOUND');
      return redeem(req, reply, req.params.accountId, req.body);
    },
  );
  r.post(
    '/v1/me/vouchers/redeem',
    {
      config: { roles: ['selfcare' as const] },
      schema: { summary: "Redeem a voucher by PIN onto the caller's own account", tags, body: RedeemBody },
    },
    async (req, reply) => redeem(req, reply, req.principal.accountId ?? '', req.body),
  );

  function redeem(
    req: FastifyRequest,
    reply: FastifyReply,
    accountId: string,
    { pin, reference }: Static<typeof RedeemBody>,
  ) {
    const apiKey = (req.headers.authorization ?? '').slice(7).trim();
    return answering(reply, () =>
      redeemVoucher(deps, req.principal.tenant, accountId, {
        pin,
        ...(reference ? { reference } : {}),
        apiKey,
      }),
    );
  }
}

export function voucherRoutes(app: FastifyInstance, deps: VoucherDeps): void {
  batchRoutes(app, deps);
  serialRoutes(app, deps);
}
