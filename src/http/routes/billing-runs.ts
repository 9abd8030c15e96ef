/**
 * Billing runs over HTTP (billing role; billing.md E.4): start a run as of an instant (202 with its
 * id; the same asOf again is the same run, resumed), read its counters and per-account outcomes,
 * resume it, unpark an account, preview an account's next invoice, bill an account off-cycle now
 * (its current period closed early, then a run for it). A second run of the tenant while
 * one is running is 409 RUN_IN_PROGRESS; an asOf in the future is 422 AS_OF_IN_FUTURE.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { formatMoney } from '../../billing/core/currency.js';
import { unpark } from '../../billing/run/accounts.js';
import { getRun, runItems } from '../../billing/run/journal.js';
import { previewInvoice, PreviewError } from '../../billing/run/preview.js';
import {
  AsOfInFutureError,
  RunInProgressError,
  startRun,
  type RunDeps,
  type RunRequest,
} from '../../billing/run/run.js';
import type { DraftOutcome } from '../../billing/run/drafts.js';
import { closeEarly, issueOffCycle } from '../../billing/run/off-cycle.js';
import { AppError } from '../errors.js';
import { Reference } from './account-schemas.js';
import { writeOnce } from './document-service.js';

const Instant = Type.String({ format: 'date-time', maxLength: 40 });
const AccountId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._:@+-]+$' });

function refusal(err: unknown): unknown {
  if (err instanceof RunInProgressError) return new AppError('RUN_IN_PROGRESS', err.message);
  if (err instanceof AsOfInFutureError) return new AppError('AS_OF_IN_FUTURE', err.message);
  if (err instanceof PreviewError)
    return new AppError(
      err.code === 'AS_OF_IN_FUTURE' ? 'AS_OF_IN_FUTURE' : 'ACCOUNT_NOT_FOUND',
      err.message,
    );
  return err;
}

async function start(deps: RunDeps, req: RunRequest) {
  try {
    const { runId, done } = await startRun(deps, req);
    done.catch(() => undefined); // settles with status failed, never rejects
    return { runId };
  } catch (err) {
    throw refusal(err);
  }
}

/** A preview as the API shows documents: decimal strings with the currency's minor digits. */
function presentPreview(o: DraftOutcome) {
  const a = o.bill.account;
  const base = {
    accountId: a.accountId,
    billSeq: o.bill.seq,
    periodStart: new Date(o.bill.periodStart).toISOString(),
    periodEnd: new Date(o.bill.periodEnd).toISOString(),
    cutoffAt: o.bill.cutoffAt,
    currency: a.currency,
  };
  if (o.kind === 'parked') return { ...base, parked: { code: o.code, message: o.message } };
  if (o.kind === 'empty') return { ...base, lines: [], total: formatMoney(0n, a.currency) };
  const m = (n: bigint) => formatMoney(n, a.currency);
  const f = o.figures;
  return {
    ...base,
    lines: f.lines.map((l) => ({
      seq: l.seq,
      kind: l.kind,
      description: l.description,
      ...(l.quantity !== undefined ? { quantity: l.quantity } : {}),
      amount: m(l.amountNano),
      tax: m(l.taxNano),
      ...(l.taxCode ? { taxCode: l.taxCode } : {}),
    })),
    subtotal: m(f.subtotalNano),
    discount: m(f.discountNano),
    tax: m(f.taxNano),
    total: m(f.totalNano),
  };
}

export function billingRunRoutes(app: FastifyInstance, deps: RunDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });

  r.post(
    '/v1/billing/runs',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: 'Start a billing run as of an instant (the same asOf again resumes the same run)',
        tags: ['billing'],
        body: Type.Object(
          {
            asOf: Instant,
            accounts: Type.Optional(Type.Array(AccountId, { minItems: 1, maxItems: 10000 })),
            dryRun: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const b = req.body;
      const run = await start(deps, {
        tenant: req.principal.tenant,
        asOf: new Date(b.asOf),
        ...(b.accounts ? { accounts: b.accounts } : {}),
        dryRun: b.dryRun === true,
        requestedBy: req.principal.name ?? 'api',
      });
      reply.status(202);
      return run;
    },
  );

  r.get(
    '/v1/billing/runs/:id',
    {
      config: { roles: ['billing'] },
      schema: { summary: 'A billing run: status and counters', tags: ['billing'], params: Params },
    },
    async (req) => {
      const run = await getRun(deps.pool, deps.schema, req.principal.tenant, req.params.id);
      if (!run) throw new AppError('NOT_FOUND', 'no such billing run');
      return run;
    },
  );

  r.get(
    '/v1/billing/runs/:id/items',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: "A billing run's outcome per account (invoiced, skipped, parked)",
        tags: ['billing'],
        params: Params,
        querystring: Type.Object({
          outcome: Type.Optional(
            Type.Union([Type.Literal('invoiced'), Type.Literal('skipped'), Type.Literal('parked')]),
          ),
        }),
      },
    },
    async (req) => {
      const run = await getRun(deps.pool, deps.schema, req.principal.tenant, req.params.id);
      if (!run) throw new AppError('NOT_FOUND', 'no such billing run');
      return { items: await runItems(deps.pool, deps.schema, run.id, req.query.outcome) };
    },
  );

  r.post(
    '/v1/billing/runs/:id/resume',
    {
      config: { roles: ['billing'] },
      schema: { summary: 'Run a stopped billing run again', tags: ['billing'], params: Params },
    },
    async (req, reply) => {
      const run = await getRun(deps.pool, deps.schema, req.principal.tenant, req.params.id);
      if (!run || run.dryRun) throw new AppError('NOT_FOUND', 'no such billing run');
      const asOf = new Date(run.asOf);
      const res = await start(deps, {
        tenant: run.tenant,
        asOf,
        ...(run.scope.accounts ? { accounts: run.scope.accounts } : {}),
        requestedBy: req.principal.name ?? 'api',
      });
      reply.status(202);
      return res;
    },
  );

  r.post(
    '/v1/accounts/:id/billing/unpark',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: 'Let billing runs bill a parked account again',
        tags: ['billing'],
        params: Type.Object({ id: AccountId }),
      },
    },
    async (req) => {
      if (!(await unpark(deps.pool, deps.schema, req.principal.tenant, req.params.id)))
        throw new AppError('ACCOUNT_NOT_FOUND', 'no billing profile for this account');
      return { accountId: req.params.id, parked: false };
    },
  );

  r.post(
    '/v1/accounts/:id/invoices',
    {
      config: { roles: ['billing'] },
      schema: {
        summary:
          "An off-cycle invoice now: the account's current bill period closes at this instant and is billed by a run for that account",
        tags: ['billing'],
        params: Type.Object({ id: AccountId }),
        body: Type.Object({ reference: Reference }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const tenant = req.principal.tenant;
      const at = deps.now();
      // The close commits with the reference (a replay closes nothing more); the run as of its
      // instant comes after, and the same instant again resumes the same run.
      const closed = (await writeOnce(deps, req, reply, req.body.reference, async (c) => ({
        status: 201,
        body: await closeEarly(c, deps.schema, tenant, req.params.id, at),
      }))) as Awaited<ReturnType<typeof closeEarly>>;
      const out = await issueOffCycle(deps, tenant, closed, req.principal.name ?? 'api');
      if (!out.invoice) reply.status(202); // closed and due, not issued yet: a replay or the next run issues it
      return out;
    },
  );

  r.post(
    '/v1/accounts/:id/invoices/preview',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: "The draft of an account's next invoice, now or as of an instant (nothing is written)",
        tags: ['billing'],
        params: Type.Object({ id: AccountId }),
        body: Type.Optional(Type.Object({ asOf: Type.Optional(Instant) }, { additionalProperties: false })),
      },
    },
    async (req) => {
      try {
        const asOf = req.body?.asOf ? new Date(req.body.asOf) : undefined;
        return presentPreview(await previewInvoice(deps, req.principal.tenant, req.params.id, asOf));
      } catch (err) {
        throw refusal(err);
      }
    },
  );
}
