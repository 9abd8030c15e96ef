/**
 * Usage views (docs/SELFCARE.md): an account's usage by day and by service (type of record and
 * category) from the daily rollup, and a period's summary with bundles left, plans and their next
 * renewal, invoices and payments. Billing staff read any account of their tenant; a customer reads
 * only their own (also as /v1/me/...). Another tenant's account answers as unknown (404).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Id } from './account-schemas.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { listAssignments } from '../../billing/plans/assignments.js';
import { listInvoices } from '../../billing/documents/read.js';
import { nanoToDecimal } from '../../rating/money.js';
import { dailyRange, daysOf, periodMonth } from '../../usage/period.js';
import { dailyRows, paymentsIn, rolledUpTo } from '../../usage/read.js';
import { byDay, byService } from '../../usage/views.js';
import { presentAccount } from '../present.js';
import { assertOwnAccount } from '../auth.js';
import { AppError } from '../errors.js';

export interface UsageDeps {
  pool: Pool;
  schema: string;
  balances: BalanceStore;
  now?: () => number;
  /** Plan assignments are read (billing/plans); off when the engine runs without them. */
  plans?: boolean;
  /** Invoices are read (billing/documents). */
  invoices?: boolean;
}

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a UTC date, YYYY-MM-DD' });
const DailyQuery = Type.Object(
  { from: Type.Optional(Day), to: Type.Optional(Day) },
  { additionalProperties: false },
);
const SummaryQuery = Type.Object(
  {
    period: Type.Optional(
      Type.String({
        pattern: '^(current|previous|\\d{4}-(0[1-9]|1[0-2]))$',
        description: 'current, previous or YYYY-MM',
      }),
    ),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ accountId: Id });

export function usageRoutes(app: FastifyInstance, deps: UsageDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const now = deps.now ?? Date.now;
  const tags = ['usage'];
  const daily = (req: FastifyRequest, accountId: string, q: { from?: string; to?: string }) =>
    dailyView(deps, req.principal.tenant, accountId, q, now());
  const summary = (req: FastifyRequest, accountId: string, period: string | undefined) =>
    summaryView(deps, req.principal.tenant, accountId, period ?? 'current', now());

  r.get(
    '/v1/accounts/:accountId/usage/daily',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: {
        summary: 'Usage by day and service (UTC days, 93 at most)',
        tags,
        params: Params,
        querystring: DailyQuery,
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      return daily(req, req.params.accountId, req.query);
    },
  );
  r.get(
    '/v1/me/usage/daily',
    {
      config: { roles: ['selfcare'] },
      schema: {
        summary: 'The caller’s usage by day and service',
        tags: ['self-care'],
        querystring: DailyQuery,
      },
    },
    async (req) => daily(req, req.principal.accountId!, req.query),
  );
  r.get(
    '/v1/accounts/:accountId/usage/summary',
    {
      config: { roles: ['billing', 'selfcare'] },
      schema: {
        summary: 'A month’s usage by service, bundles left, plans, invoices and payments',
        tags,
        params: Params,
        querystring: SummaryQuery,
      },
    },
    async (req) => {
      assertOwnAccount(req, req.params.accountId);
      return summary(req, req.params.accountId, req.query.period);
    },
  );
  r.get(
    '/v1/me/usage/summary',
    {
      config: { roles: ['selfcare'] },
      schema: {
        summary: 'The caller’s month: usage, bundles, plans, invoices',
        tags: ['self-care'],
        querystring: SummaryQuery,
      },
    },
    async (req) => summary(req, req.principal.accountId!, req.query.period),
  );
}

async function accountOf(deps: UsageDeps, tenant: string, accountId: string) {
  const v = await deps.balances.getAccount(tenant, accountId);
  if (!v) throw new AppError('ACCOUNT_NOT_FOUND');
  return v;
}

async function dailyView(
  deps: UsageDeps,
  tenant: string,
  accountId: string,
  q: { from?: string; to?: string },
  nowMs: number,
) {
  const range = dailyRange(q, nowMs);
  if ('param' in range) {
    const code = range.reason.startsWith('more than') ? 'RANGE_TOO_LARGE' : 'INVALID_REQUEST';
    throw new AppError(code, `${range.param}: ${range.reason}`, {
      invalidParams: [{ param: `/${range.param}`, reason: range.reason }],
    });
  }
  const v = await accountOf(deps, tenant, accountId);
  const rows = await dailyRows(deps.pool, deps.schema, tenant, accountId, range.from, range.to);
  return {
    accountId,
    currency: v.account.currency,
    from: range.from,
    to: range.to,
    rolledUpTo: await rolledUpTo(deps.pool, deps.schema),
    days: byDay(daysOf(range.from, range.to), rows),
  };
}

async function summaryView(
  deps: UsageDeps,
  tenant: string,
  accountId: string,
  period: string,
  nowMs: number,
) {
  const month = periodMonth(period, nowMs);
  if (!month)
    throw new AppError('INVALID_REQUEST', 'period: current, previous or YYYY-MM', {
      invalidParams: [{ param: '/period', reason: 'current, previous or YYYY-MM' }],
    });
  const v = await accountOf(deps, tenant, accountId);
  const rows = await dailyRows(deps.pool, deps.schema, tenant, accountId, month.from, month.to);
  const account = presentAccount(v);
  const plans = deps.plans ? await listAssignments({ ...deps, now: () => nowMs }, tenant, accountId) : [];
  const invoices = deps.invoices
    ? (await listInvoices(deps.pool, deps.schema, { tenant, accountId }, { ...month, limit: 100 })).invoices
    : [];
  const payments = await paymentsIn(deps.pool, deps.schema, tenant, accountId, month.from, month.to);
  return {
    accountId,
    currency: account.currency,
    period: month,
    rolledUpTo: await rolledUpTo(deps.pool, deps.schema),
    ...byService(rows),
    balances: account.balances.filter((b) => b.unit === 'money'),
    bundles: account.balances.filter((b) => b.unit !== 'money'),
    plans: plans
      .filter((a) => a.status === 'active' || a.status === 'unpaid')
      .map((a) => ({
        id: a.id,
        plan: a.plan_code,
        version: a.plan_version,
        quantity: a.quantity,
        status: a.status,
        periodStart: a.current_period_start.toISOString(),
        nextRenewal: a.end_at && a.end_at <= a.current_period_end ? null : a.current_period_end.toISOString(),
      })),
    invoices,
    payments: payments.map(({ amountNano, ...p }) => ({ ...p, amount: nanoToDecimal(amountNano) })),
  };
}
