/**
 * Webhook endpoints (issue 14): billing staff of a tenant create, list, read, change, delete, rotate
 * the secret of, and replay deliveries to their endpoints; another tenant's endpoint is unknown (404)
 * and self-care keys are refused (403). The secret is in the answer once: at creation and rotation.
 * A URL that is not https (unless allowed) or points at a private address (unless allowed) is 422
 * INVALID_ENDPOINT; an unknown event type 400 UNKNOWN_EVENT_TYPE; nothing is written either way.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { endpointStore } from '../../webhooks/endpoints.js';
import { listDeliveries, replay } from '../../webhooks/deliveries.js';
import { unknownTypes } from '../../webhooks/event-types.js';
import { checkTarget, TargetRefused } from '../../webhooks/target.js';
import type { WebhookDeps } from '../../webhooks/deps.js';
import { AppError } from '../errors.js';
import { UUID_PATTERN } from './document-service.js';

const Params = Type.Object({ id: Type.String({ pattern: UUID_PATTERN, maxLength: 36 }) });
const Url = Type.String({ minLength: 1, maxLength: 2000 });
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 64 });
const Description = Type.String({ maxLength: 500 });
const Instant = Type.String({ format: 'date-time', maxLength: 40 });
const Limit = Type.String({
  pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$',
  description: 'an integer from 1 to 500',
});
const DAY_MS = 86_400_000;
const MAX_REPLAY_DAYS = 31;

export function webhookRoutes(app: FastifyInstance, deps: WebhookDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const billing = { roles: ['billing' as const] };
  const store = endpointStore(deps.pool, deps.schema, deps.box);
  const tags = ['webhooks'];

  async function checked(body: { url?: string; eventTypes?: string[] }): Promise<void> {
    const unknown = unknownTypes(body.eventTypes ?? []);
    if (unknown.length > 0)
      throw new AppError('UNKNOWN_EVENT_TYPE', `unknown event type(s): ${unknown.join(', ')}`, {
        invalidParams: unknown.map((t) => ({
          param: `/eventTypes/${body.eventTypes!.indexOf(t)}`,
          reason: `"${t}" is not an event type (docs/EVENTS.md lists them; "*" is every type)`,
        })),
      });
    if (body.url === undefined) return;
    try {
      await checkTarget(body.url, deps.policy, deps.resolve);
    } catch (err) {
      if (!(err instanceof TargetRefused)) throw err;
      throw new AppError('INVALID_ENDPOINT', `url: ${err.message}`, {
        invalidParams: [{ param: '/url', reason: err.message }],
      });
    }
  }
  const found = <T>(x: T | null): T => {
    if (x === null) throw new AppError('WEBHOOK_NOT_FOUND');
    return x;
  };

  r.post(
    '/v1/webhooks',
    {
      config: billing,
      schema: {
        summary: 'Create a webhook endpoint; the answer holds its signing secret, shown this once',
        tags,
        body: Type.Object(
          { url: Url, eventTypes: EventTypes, description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      await checked(req.body);
      const e = await store.create(req.principal.tenant, {
        ...req.body,
        description: req.body.description ?? '',
      });
      return reply.status(201).send(e);
    },
  );
  r.get(
    '/v1/webhooks',
    { config: billing, schema: { summary: 'The webhook endpoints of the tenant', tags } },
    async (req) => ({
      endpoints: await store.list(req.principal.tenant),
    }),
  );
  r.get(
    '/v1/webhooks/:id',
    { config: billing, schema: { summary: 'One webhook endpoint', tags, params: Params } },
    async (req) => found(await store.get(req.principal.tenant, req.params.id)),
  );
  r.patch(
    '/v1/webhooks/:id',
    {
      config: billing,
      schema: {
        summary: 'Change an endpoint: URL, event types, description, or enable it again',
        tags,
        params: Params,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            eventTypes: Type.Optional(EventTypes),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (req) => {
      await checked(req.body);
      return found(await store.update(req.principal.tenant, req.params.id, req.body));
    },
  );
  r.delete(
    '/v1/webhooks/:id',
    { config: billing, schema: { summary: 'Delete an endpoint and its deliveries', tags, params: Params } },
    async (req, reply) => {
      if (!(await store.remove(req.principal.tenant, req.params.id))) throw new AppError('WEBHOOK_NOT_FOUND');
      return reply.status(204).send();
    },
  );
  r.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      config: billing,
      schema: {
        summary:
          'A new signing secret (shown this once); the previous one also signs for `graceSeconds` (default 24 h)',
        tags,
        params: Params,
        body: Type.Optional(
          Type.Object(
            { graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800 })) },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (req) =>
      found(await store.rotate(req.principal.tenant, req.params.id, req.body?.graceSeconds ?? 86_400)),
  );
  r.post(
    '/v1/webhooks/:id/replay',
    {
      config: billing,
      schema: {
        summary: 'Send again one event (`eventId`) or every subscribed event that occurred in [`from`, `to`)',
        tags,
        params: Params,
        body: Type.Union([
          Type.Object(
            { eventId: Type.String({ minLength: 1, maxLength: 256 }) },
            { additionalProperties: false },
          ),
          Type.Object({ from: Instant, to: Instant }, { additionalProperties: false }),
        ]),
      },
    },
    async (req, reply) => {
      const { tenant } = req.principal;
      found(await store.get(tenant, req.params.id));
      const b = req.body;
      if ('from' in b) {
        const from = new Date(b.from);
        const to = new Date(b.to);
        if (!(to > from) || to.getTime() - from.getTime() > MAX_REPLAY_DAYS * DAY_MS)
          throw new AppError('INVALID_REQUEST', `to must be after from, by at most ${MAX_REPLAY_DAYS} days`, {
            invalidParams: [{ param: '/to', reason: `after from, at most ${MAX_REPLAY_DAYS} days later` }],
          });
        return reply
          .status(202)
          .send({ replayed: await replay(deps.pool, deps.schema, tenant, req.params.id, { from, to }) });
      }
      const n = await replay(deps.pool, deps.schema, tenant, req.params.id, { eventId: b.eventId });
      if (n === 0) throw new AppError('EVENT_NOT_FOUND');
      return reply.status(202).send({ replayed: n });
    },
  );
  r.get(
    '/v1/webhooks/:id/deliveries',
    {
      config: billing,
      schema: {
        summary: 'The newest deliveries to an endpoint, with their attempts and last answer',
        tags,
        params: Params,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
            ),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      found(await store.get(req.principal.tenant, req.params.id));
      const q = req.query;
      return {
        deliveries: await listDeliveries(deps.pool, deps.schema, req.params.id, {
          ...(q.status ? { status: q.status } : {}),
          limit: Number(q.limit ?? 100),
        }),
      };
    },
  );
}
