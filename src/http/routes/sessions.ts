/**
 * Charging sessions (network role): `POST /v1/sessions/{sessionId}/initiate|update|terminate` with
 * Gy semantics in a 200 body, and `GET /v1/sessions/{sessionId}` for inspection. A replay of a
 * processed request number returns the first answer with `Idempotent-Replayed: true`.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SessionError, type Phase, type Sessions } from '../../charging/sessions.js';
import { AppError } from '../errors.js';
import {
  DiameterId,
  EventTime,
  RatingGroup,
  ServiceInformation,
  ShortText,
  SubscriptionIds,
  UnitFields,
  Units,
  Unsigned32,
} from './charging-schemas.js';
import type { ChargingMetrics } from '../charging-metrics.js';

const Used = Type.Object(
  {
    ...UnitFields,
    reportingReason: Type.Optional(ShortText),
    tariffChangeUsage: Type.Optional(ShortText),
  },
  { additionalProperties: false },
);

const SessionBody = Type.Object(
  {
    requestNumber: Unsigned32,
    eventTime: EventTime,
    serviceContextId: Type.Optional(ShortText),
    subscriptionIds: Type.Optional(SubscriptionIds),
    serviceInformation: Type.Optional(ServiceInformation),
    mscc: Type.Optional(
      Type.Array(
        Type.Object(
          {
            ratingGroup: RatingGroup,
            serviceIdentifier: Type.Optional(Unsigned32),
            requested: Type.Optional(Units),
            used: Type.Optional(Type.Array(Used, { maxItems: 16 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 32 },
      ),
    ),
    terminationCause: Type.Optional(ShortText),
    retransmission: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Params = Type.Object({ sessionId: DiameterId });

/** Checks what a schema cannot say: one report per rating group, total = in + out when all are given. */
function checkBody(body: Static<typeof SessionBody>): void {
  const invalid: { param: string; reason: string }[] = [];
  const seen = new Set<number>();
  body.mscc?.forEach((m, i) => {
    if (seen.has(m.ratingGroup))
      invalid.push({ param: `/mscc/${i}/ratingGroup`, reason: 'duplicate rating group' });
    seen.add(m.ratingGroup);
    m.used?.forEach((u, k) => {
      if (
        u.totalOctets !== undefined &&
        u.inputOctets !== undefined &&
        u.outputOctets !== undefined &&
        u.totalOctets !== u.inputOctets + u.outputOctets
      ) {
        invalid.push({
          param: `/mscc/${i}/used/${k}/totalOctets`,
          reason: 'must equal inputOctets + outputOctets',
        });
      }
    });
  });
  if (Number.isNaN(Date.parse(body.eventTime)))
    invalid.push({ param: '/eventTime', reason: 'must be an RFC 3339 time' });
  if (invalid.length)
    throw new AppError('INVALID_REQUEST', 'the request does not hold together', { invalidParams: invalid });
}

export function sessionRoutes(app: FastifyInstance, sessions: Sessions, metrics: ChargingMetrics): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const phase of ['initiate', 'update', 'terminate'] as Phase[]) {
    r.post(
      `/v1/sessions/:sessionId/${phase}`,
      {
        config: { roles: ['network'] },
        schema: {
          summary: `Charging session: ${phase} (CCR-${phase[0]!.toUpperCase()})`,
          tags: ['charging'],
          params: Params,
          body: SessionBody,
        },
      },
      async (req, reply) => {
        checkBody(req.body);
        try {
          const { answer, json, replayed } = await sessions.handle(
            req.principal.tenant,
            req.params.sessionId,
            phase,
            req.body,
          );
          metrics.answers.inc({ kind: phase, result_code: String(answer.resultCode) });
          if (replayed) {
            metrics.replays.inc({ kind: phase });
            reply.header('Idempotent-Replayed', 'true');
          }
          // The answer as stored: a replay sends the same bytes.
          return reply.type('application/json; charset=utf-8').send(json);
        } catch (err) {
          if (err instanceof SessionError)
            throw new AppError(err.code, err.message, {
              sessionId: req.params.sessionId,
              requestNumber: req.body.requestNumber,
            });
          throw err;
        }
      },
    );
  }
  r.get(
    '/v1/sessions/:sessionId',
    {
      config: { roles: ['network', 'billing'] },
      schema: {
        summary: 'A charging session: state, rating groups, reservations',
        tags: ['charging'],
        params: Params,
      },
    },
    async (req) => {
      const s = await sessions.get(req.principal.tenant, req.params.sessionId);
      if (!s) throw new AppError('SESSION_NOT_FOUND');
      return { sessionId: req.params.sessionId, ...s, expiresAt: new Date(s.expiresAtMs).toISOString() };
    },
  );
}
