/**
 * Invoices (issue 13, E.4): billing staff list, read, refresh, finalize, delete drafts, void and credit;
 * customers (self-care) list, read and download their own, and another account's or tenant's
 * invoice is unknown (404). Every write takes a `reference`: a replay answers the first answer.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { deleteDraft } from '../../billing/documents/drafts.js';
import { finalizeIn } from '../../billing/documents/finalize.js';
import { getInvoice, listInvoices, parseCursor } from '../../billing/documents/read.js';
import { creditNoteIn, voidIn } from '../../billing/documents/credit-notes.js';
import { formatMoney } from '../../billing/core/currency.js';
import { refreshDraft, type Refreshed } from '../../billing/run/refresh.js';
import { AppError } from '../errors.js';
import { Id, Reference, ReferenceQuery } from './account-schemas.js';
import {
  assertDates,
  moneyOf,
  readerOf,
  UUID_PATTERN,
  writeOnce,
  type DocumentRouteDeps,
} from './document-service.js';
import { sendPdf } from './document-pdf.js';

const InvoiceParams = Type.Object({ id: Type.String({ pattern: UUID_PATTERN, maxLength: 36 }) });
const DateText = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', maxLength: 10 });
const Status = Type.Union(['draft', 'finalized', 'paid', 'void'].map((s) => Type.Literal(s)));
const Page = Type.String({
  pattern: '^(500|[1-4][0-9]{2}|[1-9][0-9]?)$',
  description: 'an integer from 1 to 500',
});
const Positive = Type.String({
  maxLength: 40,
  pattern: '^\\d+(\\.\\d{1,9})?$',
  description: 'a positive decimal amount',
});
const Reason = Type.String({ minLength: 1, maxLength: 500 });
const Effect = Type.Union([
  Type.Literal('reduce_due'),
  Type.Literal('account_credit'),
  Type.Literal('refund_record'),
]);
const CreditBody = Type.Object(
  {
    lines: Type.Optional(
      Type.Array(
        Type.Object(
          { seq: Type.Integer({ minimum: 1, maximum: 100_000 }), amount: Positive },
          { additionalProperties: false },
        ),
        {
          minItems: 1,
          maxItems: 1000,
        },
      ),
    ),
    amount: Type.Optional(Positive),
    reason: Reason,
    effect: Type.Optional(Effect),
    series: Type.Optional(Id),
    reference: Reference,
  },
  { additionalProperties: false },
);

export function invoiceRoutes(app: FastifyInstance, deps: DocumentRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const billing = { roles: ['billing' as const] };
  const readers = { roles: ['billing' as const, 'selfcare' as const] };
  const now = () => new Date((deps.now ?? Date.now)());
  const tags = ['invoices'];

  r.get(
    '/v1/invoices',
    {
      config: readers,
      schema: {
        summary: 'Invoices, oldest first, 500 at most per page (follow nextCursor)',
        tags,
        querystring: Type.Object(
          {
            account: Type.Optional(Id),
            status: Type.Optional(Status),
            from: Type.Optional(DateText),
            to: Type.Optional(DateText),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Page),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const q = req.query;
      assertDates({ from: q.from, to: q.to });
      if (q.cursor !== undefined && !parseCursor(q.cursor))
        throw new AppError('INVALID_REQUEST', 'cursor: not a cursor this list gave', {
          invalidParams: [{ param: '/cursor', reason: 'not a cursor this list gave' }],
        });
      return listInvoices(deps.pool, deps.schema, readerOf(req), { ...q, limit: Number(q.limit ?? 100) });
    },
  );

  r.get(
    '/v1/invoices/:id',
    {
      config: readers,
      schema: {
        summary: 'An invoice: header, lines, tax summary, credit notes, links',
        tags,
        params: InvoiceParams,
      },
    },
    async (req) => {
      const inv = await getInvoice(deps.pool, deps.schema, readerOf(req), req.params.id);
      if (!inv) throw new AppError('NOT_FOUND', `no invoice ${req.params.id}`);
      return inv;
    },
  );

  r.get(
    '/v1/invoices/:id/pdf',
    {
      config: readers,
      schema: {
        summary: 'The PDF of an issued invoice (202 with Retry-After while it is rendered)',
        tags,
        params: InvoiceParams,
      },
    },
    (req, reply) => sendPdf(deps, req, reply, 'invoices', req.params.id),
  );

  r.post(
    '/v1/invoices/:id/finalize',
    {
      config: billing,
      schema: {
        summary: 'Finalize a draft: number, hash, issue date (409 if it needs review or is not a draft)',
        tags,
        params: InvoiceParams,
        body: Type.Object({ reference: Reference }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const out = await writeOnce(deps, req, reply, req.body.reference, async (c) => {
        const res = await finalizeIn(c, deps.schema, req.principal.tenant, [req.params.id], now(), {
          strict: true,
          actor: req.principal.name ?? 'api',
          ...(deps.hooks ? { hooks: deps.hooks } : {}),
        });
        return { status: 200, body: { id: req.params.id, ...res.finalized[0] } };
      });
      deps.pdf?.kick();
      return out;
    },
  );

  r.post(
    '/v1/invoices/:id/refresh',
    {
      config: billing,
      schema: {
        summary:
          'Rebuild a draft now with a new cut-off, as the billing run drafts (409 INVOICE_NOT_DRAFT once issued)',
        tags,
        params: InvoiceParams,
        body: Type.Object({ reference: Reference }, { additionalProperties: false }),
      },
    },
    (req, reply) =>
      writeOnce(deps, req, reply, req.body.reference, async (c) => ({
        status: 200,
        body: presentRefresh(
          await refreshDraft(deps, c, req.principal.tenant, req.params.id, req.principal.name ?? 'api'),
        ),
      })),
  );

  r.delete(
    '/v1/invoices/:id',
    {
      config: billing,
      schema: {
        summary: 'Delete a draft (409 once finalized)',
        tags,
        params: InvoiceParams,
        querystring: ReferenceQuery,
      },
    },
    (req, reply) =>
      writeOnce(deps, req, reply, req.query.reference, async (c) => ({
        status: 200,
        body: await deleteDraft(c, deps.schema, req.principal.tenant, req.params.id),
      })),
  );

  r.post(
    '/v1/invoices/:id/void',
    {
      config: billing,
      schema: {
        summary: 'Void an invoice with a full credit note (409 INVOICE_HAS_PAYMENTS once paid)',
        tags,
        params: InvoiceParams,
        body: Type.Object({ reason: Reason, reference: Reference }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const out = await writeOnce(deps, req, reply, req.body.reference, async (c) => {
        const note = await voidIn(
          c,
          deps.schema,
          req.principal.tenant,
          req.params.id,
          req.body,
          now(),
          deps.hooks,
        );
        return { status: 201, body: presentNote(note) };
      });
      deps.pdf?.kick();
      return out;
    },
  );

  r.post(
    '/v1/invoices/:id/credit-notes',
    {
      config: billing,
      schema: {
        summary: 'Credit part of an invoice, per line or by amount; tax is recomputed per line',
        tags,
        params: InvoiceParams,
        body: CreditBody,
      },
    },
    async (req, reply) => {
      const b = req.body;
      if ((b.lines === undefined) === (b.amount === undefined))
        throw new AppError('INVALID_REQUEST', 'give either lines or amount', {
          invalidParams: [{ param: '/lines', reason: 'give either lines or amount, not both' }],
        });
      const out = await writeOnce(deps, req, reply, b.reference, async (c) => {
        const cur = await c.query<{ currency: string }>(
          `SELECT currency FROM ${deps.schema}.invoices WHERE tenant = $1 AND id = $2`,
          [req.principal.tenant, req.params.id],
        );
        const currency = cur.rows[0]?.currency;
        if (!currency) throw new AppError('NOT_FOUND', `no invoice ${req.params.id}`);
        const note = await creditNoteIn(
          c,
          deps.schema,
          req.principal.tenant,
          req.params.id,
          {
            ...(b.lines
              ? {
                  lines: b.lines.map((l, i) => ({
                    seq: l.seq,
                    amountNano: moneyOf(l.amount, currency, `/lines/${i}/amount`),
                  })),
                }
              : {}),
            ...(b.amount ? { amountNano: moneyOf(b.amount, currency, '/amount') } : {}),
            reason: b.reason,
            reference: b.reference,
            ...(b.effect ? { effect: b.effect } : {}),
            ...(b.series ? { series: b.series } : {}),
          },
          now(),
          deps.hooks,
        );
        return { status: 201, body: presentNote(note) };
      });
      deps.pdf?.kick();
      return out;
    },
  );
}

/** A refreshed draft as the API shows documents: decimal strings with the currency's minor digits. */
function presentRefresh(x: Refreshed) {
  const f = x.outcome.figures;
  const currency = x.outcome.bill.account.currency;
  const m = (n: bigint) => formatMoney(n, currency);
  return {
    id: x.id,
    status: 'draft',
    accountId: x.accountId,
    billSeq: x.billSeq,
    previousCutoffAt: new Date(x.previousCutoffAt).toISOString(),
    cutoffAt: new Date(x.cutoffAt).toISOString(),
    currency,
    lines: f.lines.length,
    subtotal: m(f.subtotalNano),
    discount: m(f.discountNano),
    tax: m(f.taxNano),
    total: m(f.totalNano),
    links: { self: `/v1/invoices/${x.id}` },
  };
}

function presentNote(n: {
  id: string;
  number: string;
  invoiceId: string;
  kind: string;
  effect: string;
  total: string;
  currency: string;
  hash: string;
}) {
  return {
    id: n.id,
    number: n.number,
    invoiceId: n.invoiceId,
    kind: n.kind,
    effect: n.effect,
    total: n.total,
    currency: n.currency,
    hash: n.hash,
    links: { self: `/v1/credit-notes/${n.id}`, pdf: `/v1/credit-notes/${n.id}/pdf` },
  };
}
