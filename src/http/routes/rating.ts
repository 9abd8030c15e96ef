/** Price enquiry: rate an event against the active tariff and say why (network and billing). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { rateObject } from '../../cli/rate-lines.js';
import type { ActiveTariff } from '../../tariffs/active.js';
import { AppError } from '../errors.js';

const PriceRequest = Type.Object(
  {
    tenant: Type.Optional(Type.String({ minLength: 1 })),
    category: Type.String({ minLength: 1 }),
    subject: Type.String({ minLength: 1 }),
    destination: Type.String(),
    answerTime: Type.String({ minLength: 1, description: 'ISO-8601 with an offset' }),
    usage: Type.Number({ minimum: 0, description: 'seconds for voice, bytes for data, messages for SMS' }),
    tor: Type.String({ description: 'voice, data, sms or generic' }),
  },
  { additionalProperties: false },
);

export function ratingRoutes(app: FastifyInstance, tariff: ActiveTariff): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/rating/price',
    {
      config: { roles: ['network', 'billing'] },
      schema: {
        summary: 'Price an event and explain the price (no balance is touched)',
        tags: ['rating'],
        body: PriceRequest,
        response: { 200: Type.Object({ cost: Type.String() }, { additionalProperties: true }) },
      },
    },
    async (req) => {
      const tenant = req.body.tenant ?? req.principal.tenant;
      if (tenant !== req.principal.tenant) throw new AppError('FORBIDDEN', 'another tenant');
      const out = rateObject(tariff.current(), { ...req.body, id: 'price', tenant });
      if ('error' in out) {
        throw new AppError('INVALID_REQUEST', out.error.message, {
          ratingError: out.error.code,
          ...(out.error.field
            ? { invalidParams: [{ param: `/${out.error.field}`, reason: out.error.message }] }
            : {}),
        });
      }
      const { id: _id, ...price } = out;
      return price;
    },
  );
}
