/**
 * `POST /v1/events/{eventId}` (network role): one-shot charging — direct debit, refund, balance
 * check, price enquiry — answered with Diameter result codes in a 200 body. A retry returns the
 * first answer with `Idempotent-Replayed: true`; the same id with a different body is a 409.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { BalanceStore } from '../../balances/store.js';
import { chargeEvent, EventConflict } from '../../charging/events.js';
import type { ActiveTariff } from '../../tariffs/active.js';
import type { Directory } from '../../charging/directory.js';
import type { ChargingMetrics } from '../charging-metrics.js';
import { AppError } from '../errors.js';
import {
  DiameterId,
  EventTime,
  RatingGroup,
  ServiceInformation,
  ShortText,
  SubscriptionIds,
  Units,
  Unsigned32,
} from './charging-schemas.js';

const EventBody = Type.Object(
  {
    requestedAction: Type.Union([
      Type.Literal('DIRECT_DEBITING'),
      Type.Literal('REFUND_ACCOUNT'),
      Type.Literal('CHECK_BALANCE'),
      Type.Literal('PRICE_ENQUIRY'),
    ]),
    eventTime: EventTime,
    serviceContextId: ShortText,
    subscriptionIds: SubscriptionIds,
    serviceInformation: Type.Optional(ServiceInformation),
    mscc: Type.Array(
      Type.Object(
        {
          ratingGroup: RatingGroup,
          serviceIdentifier: Type.Optional(Unsigned32),
          requested: Type.Optional(Units),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1 },
    ),
    retransmission: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const EventAnswer = Type.Object({
  eventId: Type.String(),
  requestedAction: Type.String(),
  resultCode: Type.Integer(),
  resultName: Type.String(),
  mscc: Type.Array(
    Type.Object({ ratingGroup: Type.Integer(), resultCode: Type.Integer(), granted: Type.Optional(Units) }),
  ),
  costInformation: Type.Optional(Type.Object({ amount: Type.String(), currency: Type.String() })),
  checkBalanceResult: Type.Optional(Type.String()),
  failedParams: Type.Optional(Type.Array(Type.String())),
});

export function eventRoutes(
  app: FastifyInstance,
  deps: {
    tariff: ActiveTariff;
    balances: BalanceStore;
    directory: Directory;
    metrics: ChargingMetrics;
    now?: () => number;
  },
): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/events/:eventId',
    {
      config: { roles: ['network'] },
      schema: {
        summary: 'Charge one event (IEC): direct debit, refund, balance check or price enquiry',
        tags: ['charging'],
        params: Type.Object({
          eventId: DiameterId,
        }),
        body: EventBody,
        response: { 200: EventAnswer },
      },
    },
    async (req, reply) => {
      try {
        const { answer, json, replayed } = await chargeEvent(
          { tariff: () => deps.tariff.current(), balances: deps.balances, directory: deps.directory },
          req.principal.tenant,
          req.params.eventId,
          req.body,
          (deps.now ?? Date.now)(),
        );
        deps.metrics.answers.inc({ kind: 'event', result_code: String(answer.resultCode) });
        if (replayed) {
          deps.metrics.replays.inc({ kind: 'event' });
          reply.header('Idempotent-Replayed', 'true');
        }
        // The answer as stored: a replay sends the same bytes.
        return reply.type('application/json; charset=utf-8').send(json as never);
      } catch (err) {
        if (err instanceof EventConflict)
          throw new AppError('CONFLICT', err.message, { eventId: err.eventId });
        throw err;
      }
    },
  );
}
