/**
 * The pull API of account events (issue 14): `GET /v1/account-events?after=&type=&account=&limit=`,
 * billing role, the caller's tenant only. Not `/v1/events`: that path is the charging API's one-shot
 * events (`POST /v1/events/{id}`); docs/EVENTS.md says why. Keyset pagination: `next` is the cursor
 * to pass as `after`; it never skips an event, even one committed late (src/webhooks/pull.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isEventType } from '../../webhooks/event-types.js';
import { CURSOR_PATTERN, pullEvents } from '../../webhooks/pull.js';
import type { WebhookDeps } from '../../webhooks/deps.js';
import { AppError } from '../errors.js';

const Limit = Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'an integer from 1 to 1000' });

export function accountEventRoutes(app: FastifyInstance, deps: Pick<WebhookDeps, 'pool' | 'schema'>): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/account-events',
    {
      config: { roles: ['billing' as const] },
      schema: {
        summary:
          'Account events of the tenant, oldest first, from the cursor `after` (the `next` of the previous page)',
        tags: ['webhooks'],
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: CURSOR_PATTERN, maxLength: 41 })),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            account: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const q = req.query;
      if (q.type !== undefined && !isEventType(q.type))
        throw new AppError('UNKNOWN_EVENT_TYPE', `unknown event type: ${q.type}`, {
          invalidParams: [
            { param: '/type', reason: `"${q.type}" is not an event type (docs/EVENTS.md lists them)` },
          ],
        });
      return pullEvents(deps.pool, deps.schema, req.principal.tenant, {
        ...(q.after ? { after: q.after } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.account ? { accountId: q.account } : {}),
        limit: Number(q.limit ?? 100),
      });
    },
  );
}
