/**
 * What happened and why: the trail of a session or event (each request, what was granted or refused,
 * the rated records with their price breakdown) for support staff, and recent usage for an account
 * (billing, or the customer for their own). Served from PostgreSQL, a second or so behind.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { nanoToDecimal } from '../../rating/money.js';
import { trailOf, usageOf, type History } from '../../storage/history.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';

const Id = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

/**
 * 1 to 1000, as digits: ajv coerces a query string of 400 digits to Infinity, which then passes an
 * integer's `maximum`; a pattern on the text cannot be fooled.
 */
const Limit = Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'an integer from 1 to 1000' });

function money<T extends { costNano: string }>(rows: T[]) {
  return rows.map(({ costNano, ...r }) => ({ ...r, cost: nanoToDecimal(BigInt(costNano)) }));
}

export function historyRoutes(app: FastifyInstance, history: History): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const [path, what] of [
    ['/v1/sessions/:id/trail', 'a charging session'],
    ['/v1/events/:id/trail', 'a charging event'],
  ] as const) {
    r.get(
      path,
      {
        config: { roles: ['billing'] },
        schema: {
          summary: `The whole trail of ${what}: requests, answers, rated records and price breakdowns`,
          tags: ['history'],
          params: Type.Object({ id: Id }),
        },
      },
      async (req) => {
        const t = await trailOf(history, req.principal.tenant, req.params.id);
        if (t.requests.length === 0 && t.records.length === 0)
          throw new AppError('NOT_FOUND', `nothing recorded for ${req.params.id} (yet)`);
        return { id: req.params.id, requests: t.requests, records: money(t.records) };
      },
    );
  }
  r.get(
    '/v1/accounts/:accountId/usage',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: {
        summary: 'Recent rated usage of an account',
        tags: ['history'],
        params: Type.Object({ accountId: Id }),
        querystring: Type.Object({ limit: Type.Optional(Limit) }),
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      return {
        accountId: req.params.accountId,
        usage: money(
          await usageOf(history, req.principal.tenant, req.params.accountId, Number(req.query.limit ?? 50)),
        ),
      };
    },
  );
}
