/**
 * What the document routes share: their dependencies, the once-per-reference write (a replay
 * answers the first answer with `Idempotent-Replayed: true`), and the mapping of the store's
 * refusals to the error catalog.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PoolClient } from 'pg';
import { MoneyFormatError, parseMoney } from '../../billing/core/currency.js';
import { DocumentError, type DocumentHooks } from '../../billing/documents/model.js';
import type { PdfRenderer } from '../../billing/documents/pdf-jobs.js';
import type { Reader } from '../../billing/documents/read.js';
import { once } from '../../billing/documents/requests.js';
import { inTransaction } from '../../billing/documents/transaction.js';
import type { Pool } from 'pg';
import { AppError } from '../errors.js';

export interface DocumentRouteDeps {
  pool: Pool;
  schema: string;
  /** The postpaid balance posting at finalization and credit (wired by the billing run's owner). */
  hooks?: DocumentHooks;
  /** Background PDF rendering; without it PDFs stay pending. */
  pdf?: PdfRenderer;
  now?: () => number;
}

/** Invoice and credit-note ids are UUIDs; anything else is refused before PostgreSQL sees it. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

export function asAppError(err: unknown): unknown {
  if (err instanceof DocumentError) return new AppError(err.code, err.message, err.extra);
  return err;
}

/** The reader a request is: a customer reads only its own account. */
export const readerOf = (req: FastifyRequest): Reader => ({
  tenant: req.principal.tenant,
  ...(req.principal.role === 'selfcare' ? { accountId: req.principal.accountId ?? '' } : {}),
});

export async function writeOnce(
  deps: DocumentRouteDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  reference: string,
  run: (client: PoolClient) => Promise<{ status: number; body: unknown }>,
): Promise<unknown> {
  const request = {
    method: req.method,
    route: req.routeOptions.url,
    params: req.params,
    body: req.body ?? null,
  };
  try {
    const a = await inTransaction(deps.pool, (c) =>
      once(c, deps.schema, req.principal.tenant, reference, request, () => run(c)),
    );
    if (a.replayed) reply.header('Idempotent-Replayed', 'true');
    reply.status(a.status);
    return a.body;
  } catch (err) {
    throw asAppError(err);
  }
}

/** A positive amount in the invoice's currency, at most its minor digits. */
export function moneyOf(text: string, currency: string, param: string): bigint {
  try {
    const nano = parseMoney(text, currency);
    if (nano <= 0n) throw new MoneyFormatError('must be more than zero', 'malformed');
    return nano;
  } catch (err) {
    if (!(err instanceof MoneyFormatError)) throw err;
    throw new AppError('INVALID_REQUEST', `${param}: ${err.message}`, {
      invalidParams: [{ param, reason: err.message }],
    });
  }
}

/** A real calendar date (YYYY-MM-DD already checked by the schema): 2026-02-30 is refused 400. */
export function assertDates(dates: Record<string, string | undefined>): void {
  for (const [param, d] of Object.entries(dates))
    if (d !== undefined && (Number.isNaN(Date.parse(d)) || new Date(d).toISOString().slice(0, 10) !== d))
      throw new AppError('INVALID_REQUEST', `${param}: ${d} is not a date`, {
        invalidParams: [{ param: `/${param}`, reason: 'not a calendar date' }],
      });
}
