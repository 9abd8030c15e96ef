/**
 * GET /v1/billing/reconciliation[?account=ID][&limit=N] (billing staff): the reconciliation report
 * (reconcile.ts) of one account, or of the tenant's accounts with a billing profile in account order
 * (at most `limit`, `truncated` when there are more). Another tenant's account answers 404.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { Id } from '../../http/routes/account-schemas.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../../http/errors.js';
import { profiledAccounts } from './read.js';
import { reconcile, ReconcileAccountNotFound, reportJson, type ReconcileDeps } from './reconcile.js';

const Query = Type.Object(
  {
    account: Type.Optional(Id),
    // A string: a number of 400 digits must be a 400, not Infinity in SQL (as every list's limit).
    limit: Type.Optional(
      Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'an integer from 1 to 1000' }),
    ),
  },
  { additionalProperties: false },
);

export function reconcileRoutes(app: FastifyInstance, deps: ReconcileDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/billing/reconciliation',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: 'Redis balances against the ledger, and postpaid balances against what is due and unbilled',
        tags: ['billing'],
        querystring: Query,
      },
    },
    async (req) => {
      const tenant = req.principal.tenant;
      const limit = Number(req.query.limit ?? 200);
      let ids: string[];
      let truncated = false;
      if (req.query.account) ids = [req.query.account];
      else {
        const all = await profiledAccounts(deps.pool, deps.schema, tenant, limit + 1);
        truncated = all.length > limit;
        ids = all.slice(0, limit).map((a) => a.accountId);
      }
      try {
        return reportJson({ ...(await reconcile(deps, tenant, ids)), truncated });
      } catch (err) {
        if (err instanceof ReconcileAccountNotFound) throw new AppError('ACCOUNT_NOT_FOUND');
        throw err;
      }
    },
  );
}
