/**
 * The PDF download of an issued document: 200 application/pdf once rendered, 202 with Retry-After
 * while the background renderer has it (a failed one is queued again), 409 for a draft.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { readerOf, type DocumentRouteDeps } from './document-service.js';

/** Seconds a client waits before asking again for a PDF being rendered. */
const RETRY_AFTER_SECONDS = 2;

export async function sendPdf(
  deps: DocumentRouteDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  table: 'invoices' | 'credit_notes',
  id: string,
) {
  const who = readerOf(req);
  const s = deps.schema;
  const r = await deps.pool.query<{
    status: string;
    number: string | null;
    pdfStatus: string;
    pdf: Buffer | null;
  }>(
    table === 'invoices'
      ? `SELECT status, number, pdf_status AS "pdfStatus", pdf FROM ${s}.invoices i
          WHERE i.tenant = $1 AND i.id = $2 AND ($3::text IS NULL OR i.account_id = $3)`
      : `SELECT 'issued' AS status, n.number, n.pdf_status AS "pdfStatus", n.pdf FROM ${s}.credit_notes n
           JOIN ${s}.invoices i ON i.id = n.invoice_id
          WHERE n.tenant = $1 AND n.id = $2 AND ($3::text IS NULL OR i.account_id = $3)`,
    [who.tenant, id, who.accountId ?? null],
  );
  const doc = r.rows[0];
  if (!doc) throw new AppError('NOT_FOUND', `no document ${id}`);
  if (doc.status === 'draft')
    throw new AppError('INVOICE_IS_DRAFT', 'a draft has no PDF: read its JSON instead');
  if (doc.pdfStatus === 'rendered' && doc.pdf)
    return reply
      .type('application/pdf')
      .header('Content-Disposition', `inline; filename="${doc.number ?? id}.pdf"`)
      .send(doc.pdf);
  if (doc.pdfStatus === 'failed')
    await deps.pool.query(
      `UPDATE ${s}.${table} SET pdf_status = 'pending', pdf_attempts = 0 WHERE id = $1 AND pdf_status = 'failed'`,
      [id],
    );
  deps.pdf?.kick();
  reply.header('Retry-After', String(RETRY_AFTER_SECONDS)).status(202);
  return { id, number: doc.number, pdfStatus: 'pending', retryAfterSeconds: RETRY_AFTER_SECONDS };
}
