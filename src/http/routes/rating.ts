/** Price enquiry: rate an event against the active tariff and say why (network and billing). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { priceEvent } from '../../rating/price.js';
import { MAX_USAGE } from '../../rating/units.js';
import type { ActiveTariff } from '../../tariffs/active.js';
import { AppError } from '../errors.js';

/** Names a tariff matches exactly (tenant, category, subject). */
const Name = Type.String({ minLength: 1, maxLength: 128 });

const PriceRequest = Type.Object(
  {
    tenant: Type.Optional(Name),
    category: Name,
    subject: Name,
    destination: Type.String({ maxLength: 256 }),
    answerTime: Type.String({ minLength: 1, maxLength: 64, description: 'ISO-8601 with an offset' }),
    usage: Type.Number({
      minimum: 0,
      // The largest of any service; the rating core then names the limit of the event's own (units.ts).
      maximum: Math.max(...Object.values(MAX_USAGE)),
      description: 'seconds for voice, bytes for data, messages for SMS',
    }),
    tor: Type.String({ maxLength: 16, description: 'voice, data, sms or generic' }),
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
      const out = priceEvent(tariff.current(), { ...req.body, tenant });
      if (!out.ok) {
        throw new AppError('INVALID_REQUEST', out.error.message, {
          ratingError: out.error.code,
          ...(out.error.field
            ? { invalidParams: [{ param: `/${out.error.field}`, reason: out.error.message }] }
            : {}),
        });
      }
      return out.price;
    },
  );
}
