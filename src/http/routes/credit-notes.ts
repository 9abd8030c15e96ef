/** Credit notes (issue 13, E.4): read one and download its PDF; customers only their own. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getCreditNote } from '../../billing/documents/read.js';
import { AppError } from '../errors.js';
import { sendPdf } from './document-pdf.js';
import { readerOf, UUID_PATTERN, type DocumentRouteDeps } from './document-service.js';

const Params = Type.Object({ id: Type.String({ pattern: UUID_PATTERN, maxLength: 36 }) });

export function creditNoteRoutes(app: FastifyInstance, deps: DocumentRouteDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const readers = { roles: ['billing' as const, 'selfcare' as const] };
  r.get(
    '/v1/credit-notes/:id',
    {
      config: readers,
      schema: { summary: 'A credit note and the canonical document', tags: ['invoices'], params: Params },
    },
    async (req) => {
      const n = await getCreditNote(deps.pool, deps.schema, readerOf(req), req.params.id);
      if (!n) throw new AppError('NOT_FOUND', `no credit note ${req.params.id}`);
      return n;
    },
  );
  r.get(
    '/v1/credit-notes/:id/pdf',
    {
      config: readers,
      schema: {
        summary: 'The PDF of a credit note (202 while rendered)',
        tags: ['invoices'],
        params: Params,
      },
    },
    (req, reply) => sendPdf(deps, req, reply, 'credit_notes', req.params.id),
  );
}
