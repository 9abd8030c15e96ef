/**
 * Invoice series (numbering) and the accounting export. A series may be changed until its first
 * number is taken, never after (409 SERIES_IN_USE). The export streams one row per document line.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { exportDocuments } from '../../billing/documents/export.js';
import { putSeries } from '../../billing/documents/series.js';
import { AppError } from '../errors.js';
import { Reference } from './account-schemas.js';
import { assertDates, writeOnce, type DocumentRouteDeps } from './document-service.js';

/** How long an export may stream before it is cut. */
const EXPORT_DEADLINE_MS = 10 * 60_000;

const Code = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' });
const DateText = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', maxLength: 10 });
const SeriesBody = Type.Object(
  {
    documentType: Type.Union([
      Type.Literal('invoice'),
      Type.Literal('credit_note'),
      Type.Literal('statement'),
    ]),
    prefix: Type.String({ maxLength: 16, pattern: '^[A-Za-z0-9/_-]*$' }),
    padding: Type.Integer({ minimum: 1, maximum: 12 }),
    reset: Type.Union([Type.Literal('never'), Type.Literal('yearly')]),
    nextNumber: Type.Integer({ minimum: 1, maximum: 999_999_999_999 }),
    reference: Reference,
  },
  { additionalProperties: false },
);

export function invoiceSeriesRoutes(app: FastifyInstance, deps: DocumentRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const billing = { roles: ['billing' as const] };
  r.put(
    '/v1/invoice-series/:code',
    {
      config: billing,
      schema: {
        summary: 'Create or change an invoice series',
        tags: ['invoices'],
        params: Type.Object({ code: Code }),
        body: SeriesBody,
      },
    },
    (req, reply) => {
      const { reference, ...body } = req.body;
      return writeOnce(deps, req, reply, reference, async (c) => ({
        status: 200,
        body: await putSeries(c, deps.schema, req.principal.tenant, req.params.code, body),
      }));
    },
  );
  r.get(
    '/v1/invoices/export',
    {
      config: billing,
      // A year of documents streams for longer than the provisioning deadline (which would cut it).
      handlerTimeout: EXPORT_DEADLINE_MS,
      schema: {
        summary:
          'Accounting export: one row per line of every document issued from `from` to `to` (inclusive)',
        tags: ['invoices'],
        querystring: Type.Object(
          {
            from: DateText,
            to: DateText,
            format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('jsonl')])),
          },
          { additionalProperties: false },
        ),
      },
    },
    (req, reply) => {
      const { from, to } = req.query;
      const format = req.query.format ?? 'csv';
      assertDates({ from, to });
      if (from > to)
        throw new AppError('INVALID_REQUEST', '`from` must be on or before `to`', {
          invalidParams: [{ param: '/from', reason: 'a date on or before `to`' }],
        });
      reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      reply.header('Content-Disposition', `attachment; filename="documents-${from}-${to}.${format}"`);
      return reply.send(exportDocuments(deps.pool, deps.schema, req.principal.tenant, { from, to, format }));
    },
  );
}
