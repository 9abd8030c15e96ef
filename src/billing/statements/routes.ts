/**
 * Statement routes: GET /v1/accounts/{id}/statements (billing; a customer their own) and
 * GET /v1/statements/{id} (billing; a customer only their own: another account's or tenant's id
 * answers 404, as if it did not exist), GET /v1/accounts/{id}/statements/preview (the open period so
 * far, written nowhere). Statements are written by `cli billing statements` and the
 * billing run (produce.ts); these routes only read.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { Id } from '../../http/routes/account-schemas.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { assertOwnAccount } from '../../http/auth.js';
import { AppError } from '../../http/errors.js';
import { previewStatement } from './produce.js';
import { getStatement, listStatements } from './store.js';

export interface StatementRouteDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  now?: () => number;
}

const UUID = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  maxLength: 36,
});
const ListQuery = Type.Object(
  // A string: a number of 400 digits must be a 400, not Infinity in SQL (as every list's limit).
  {
    limit: Type.Optional(
      Type.String({ pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$', description: 'an integer from 1 to 500' }),
    ),
  },
  { additionalProperties: false },
);

export function statementRoutes(app: FastifyInstance, deps: StatementRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const config = { roles: ['billing' as const, 'selfcare' as const] };
  r.get(
    '/v1/accounts/:accountId/statements',
    {
      config,
      schema: {
        summary: 'A prepaid account’s statements from the ledger, oldest first',
        tags: ['invoices'],
        params: Type.Object({ accountId: Id }),
        querystring: ListQuery,
      },
    },
    async (req) => {
      const { accountId } = req.params;
      assertOwnAccount(req, accountId);
      const tenant = req.principal.tenant;
      if (!(await deps.balances.accountInfo(tenant, accountId))) throw new AppError('ACCOUNT_NOT_FOUND');
      const items = await listStatements(
        deps.pool,
        deps.schema,
        tenant,
        accountId,
        Number(req.query.limit ?? 100),
      );
      return { items: items.map(present) };
    },
  );
  r.get(
    '/v1/accounts/:accountId/statements/preview',
    {
      config,
      schema: {
        summary: 'The open period’s statement so far (written nowhere)',
        tags: ['invoices'],
        params: Type.Object({ accountId: Id }),
      },
    },
    async (req) => {
      const { accountId } = req.params;
      assertOwnAccount(req, accountId);
      const tenant = req.principal.tenant;
      if (!(await deps.balances.accountInfo(tenant, accountId))) throw new AppError('ACCOUNT_NOT_FOUND');
      const s = await previewStatement(deps, tenant, accountId, (deps.now ?? Date.now)());
      if (!s)
        throw new AppError(
          'NOT_FOUND',
          `account ${accountId} gets no statements (not a prepaid statement profile)`,
        );
      return s;
    },
  );
  r.get(
    '/v1/statements/:id',
    {
      config,
      schema: { summary: 'One prepaid statement', tags: ['invoices'], params: Type.Object({ id: UUID }) },
    },
    async (req) => {
      const p = req.principal;
      const reader = { tenant: p.tenant, ...(p.role === 'selfcare' ? { accountId: p.accountId ?? '' } : {}) };
      const s = await getStatement(deps.pool, deps.schema, reader, req.params.id);
      if (!s) throw new AppError('NOT_FOUND', `no statement ${req.params.id}`);
      return present(s);
    },
  );
}

function present(s: Awaited<ReturnType<typeof getStatement>> & object) {
  return {
    id: s.id,
    account_id: s.accountId,
    start_date: s.periodStart,
    end_date: s.periodEnd,
    created_at: s.createdAt,
    ...s.body,
  };
}
