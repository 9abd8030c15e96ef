/**
 * The error catalog: stable string codes, each with its HTTP status, title and Diameter result
 * code, and the one handler that turns errors into RFC 9457 problem+json. Unknown errors are a
 * generic 500 (details only in the log).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isUnavailable } from '../infra/unavailable.js';

export const ERRORS = {
  INVALID_REQUEST: { status: 400, title: 'The request is not valid', diameter: 5004 },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'The request body is larger than this route takes',
    diameter: 5004,
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'The request body is not in a media type or charset this route reads',
    diameter: 5004,
  },
  UNAUTHENTICATED: { status: 401, title: 'An API key is required', diameter: 3010 },
  FORBIDDEN: { status: 403, title: 'This key may not do that', diameter: 5003 },
  NOT_FOUND: { status: 404, title: 'No such resource', diameter: 5002 },
  METHOD_NOT_ALLOWED: { status: 405, title: 'This path does not take this method', diameter: 5004 },
  ACCOUNT_NOT_FOUND: { status: 404, title: 'No such account', diameter: 5030 },
  CONFLICT: { status: 409, title: 'This request id was used for a different request', diameter: 5012 },
  MANDATORY_IE_MISSING: { status: 400, title: 'A mandatory field is missing', diameter: 5005 },
  INVALID_REQUEST_NUMBER: {
    status: 400,
    title: 'The request number does not fit the request',
    diameter: 5004,
  },
  INSUFFICIENT_CREDIT: {
    status: 402,
    title: 'The account cannot pay this (its balances or credit limit do not cover it)',
    diameter: 4012,
  },
  SESSION_NOT_FOUND: { status: 404, title: 'No such charging session', diameter: 5002 },
  REQUEST_CONFLICT: {
    status: 409,
    title: 'This request number was already processed with a different body',
    diameter: 5012,
  },
  REQUEST_TOO_OLD: {
    status: 409,
    title: 'This request number is older than the answers the session keeps',
    diameter: 5012,
  },
  SESSION_EXISTS: { status: 409, title: 'The session is already open', diameter: 5012 },
  BUSY: { status: 503, title: 'The account kept changing while charging: retry', diameter: 3004 },
  INVALID_TARIFF: { status: 422, title: 'The tariff was refused', diameter: 5012 },
  OVERLOADED: { status: 503, title: 'Too many requests in flight', diameter: 3004 },
  NOT_READY: { status: 503, title: 'A dependency is not answering', diameter: 3002 },
  UNAVAILABLE: {
    status: 503,
    title: 'Redis or PostgreSQL did not answer in time: retry',
    diameter: 3002,
  },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time', diameter: 5004 },
  HEADERS_TOO_LARGE: {
    status: 431,
    title: 'The request headers are larger than the server takes',
    diameter: 5004,
  },
  INVOICE_NOT_DRAFT: { status: 409, title: 'Only a draft invoice can do that', diameter: 5012 },
  INVOICE_IS_DRAFT: { status: 409, title: 'A draft invoice has no PDF or credit notes yet', diameter: 5012 },
  INVOICE_NEEDS_REVIEW: {
    status: 409,
    title: 'The draft needs review before it is finalized',
    diameter: 5012,
  },
  INVOICE_HAS_PAYMENTS: {
    status: 409,
    title: 'The invoice has payments: credit it partially and refund instead of voiding it',
    diameter: 5012,
  },
  INVOICE_IS_VOID: { status: 409, title: 'The invoice is void', diameter: 5012 },
  CREDIT_EXCEEDS_INVOICE: {
    status: 422,
    title: 'The credit is more than what is left of the invoice (earlier credit notes included)',
    diameter: 5012,
  },
  SERIES_NOT_FOUND: { status: 404, title: 'No such invoice series', diameter: 5012 },
  SERIES_IN_USE: { status: 409, title: 'The series has issued numbers: it cannot change', diameter: 5012 },
  SERIES_YEAR_CLOSED: {
    status: 409,
    title: 'The series already numbers a later year: this document would go back in time',
    diameter: 5012,
  },
  RUN_IN_PROGRESS: { status: 409, title: 'A billing run of this tenant is in progress', diameter: 5012 },
  LATER_BILL_CUT_OFF: {
    status: 409,
    title: 'A later bill of the account is already cut off: refreshing this draft would bill its rows twice',
    diameter: 5012,
  },
  ACCOUNT_NOT_BILLABLE: {
    status: 409,
    title: 'The account is parked or gets no documents (invoice mode none)',
    diameter: 5012,
  },
  AS_OF_IN_FUTURE: { status: 422, title: 'A billing run cannot be as of a future instant', diameter: 5012 },
  INVALID_PLAN: { status: 422, title: 'The plan was refused (every problem is listed)', diameter: 5012 },
  PLAN_NOT_FOUND: { status: 404, title: 'No such plan (or version)', diameter: 5012 },
  NO_PRICE_FOR_CURRENCY: {
    status: 422,
    title: "The plan or coupon has no price in the account's currency",
    diameter: 5012,
  },
  ASSIGNMENT_NOT_FOUND: { status: 404, title: 'No such plan assignment on this account', diameter: 5012 },
  ASSIGNMENT_NOT_ACTIVE: { status: 409, title: 'The plan assignment is not active', diameter: 5012 },
  BILLING_STARTED: {
    status: 409,
    title: 'Billing of this account has started: its first bill period is fixed',
    diameter: 5012,
  },
  CHANGE_PENDING: {
    status: 409,
    title: 'An earlier write on this assignment did not finish: retry it (its reference) first',
    diameter: 5012,
  },
  TAX_RATE_OVERLAP: {
    status: 422,
    title: 'The tax code already has a rate in that date range',
    diameter: 5012,
  },
  UNKNOWN_TAX_CODE: { status: 422, title: 'No such tax code', diameter: 5012 },
  TAX_PROFILE_NOT_FOUND: { status: 422, title: 'No such tax profile', diameter: 5012 },
  COUPON_NOT_FOUND: { status: 404, title: 'No such coupon', diameter: 5012 },
  COUPON_EXPIRED: { status: 422, title: 'The coupon has expired', diameter: 5012 },
  COUPON_EXHAUSTED: { status: 422, title: 'The coupon was redeemed as often as it may be', diameter: 5012 },
  COUPON_ALREADY_REDEEMED: { status: 409, title: 'The account already redeemed this coupon', diameter: 5012 },
  UNKNOWN_EVENT_TYPE: { status: 400, title: 'No such account event type', diameter: 5004 },
  INVALID_ENDPOINT: {
    status: 422,
    title: 'The webhook URL is not allowed (scheme, host or private address)',
    diameter: 5004,
  },
  WEBHOOK_NOT_FOUND: { status: 404, title: 'No such webhook endpoint', diameter: 5002 },
  EVENT_NOT_FOUND: { status: 404, title: 'No such account event', diameter: 5002 },
  RANGE_TOO_LARGE: { status: 422, title: 'The date range is longer than the view answers', diameter: 5004 },
  CURRENCY_MISMATCH: { status: 422, title: "The amount is not in the account's currency", diameter: 5012 },
  ALLOCATION_EXCEEDS_DUE: {
    status: 422,
    title: 'The allocations name an invoice that is not open, or more than it or the payment has',
    diameter: 5012,
  },
  REFUND_EXCEEDS_PAYMENT: {
    status: 422,
    title: 'The refund is more than what is left unapplied of the payment',
    diameter: 5012,
  },
  VOUCHER_INVALID: { status: 422, title: 'The voucher cannot be redeemed', diameter: 5012 },
  TOO_MANY_ATTEMPTS: { status: 429, title: 'Too many failed voucher redemptions: wait', diameter: 5012 },
  GONE: { status: 410, title: 'This was answered once and is not kept', diameter: 5012 },
  VOUCHER_BATCH_GENERATING: {
    status: 409,
    title: 'The voucher batch is still being generated: ask again',
    diameter: 5012,
  },
  VOUCHER_REDEEMED: { status: 409, title: 'The voucher was redeemed: it cannot change', diameter: 5012 },
  INTERNAL: { status: 500, title: 'Internal error', diameter: 5012 },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? ERRORS[code].title);
  }
}

export function problem(code: ErrorCode, detail?: string, extra: Record<string, unknown> = {}) {
  const e = ERRORS[code];
  return {
    type: `https://ocs.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: e.title,
    status: e.status,
    cause: code,
    diameterResultCode: e.diameter,
    ...(detail ? { detail } : {}),
    ...extra,
  };
}

function send(reply: FastifyReply, code: ErrorCode, detail?: string, extra?: Record<string, unknown>) {
  const body = problem(code, detail, extra);
  if (code === 'OVERLOADED' || code === 'BUSY' || code === 'UNAVAILABLE' || code === 'NOT_READY')
    reply.header('Retry-After', '1');
  return reply.status(body.status).type('application/problem+json').send(body);
}

/** What fastify's own errors (FST_ERR_*: bad URL, content type, body size...) are in the catalog. */
const FRAMEWORK_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

type Violation = NonNullable<FastifyError['validation']>[number] & { parentSchema?: Record<string, unknown> };

/** A range violation names the whole range (the schema's bounds), so a caller sees what fits. */
function reasonOf(v: Violation): string {
  const s = v.parentSchema;
  if (s && ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(v.keyword)) {
    const low = s.minimum ?? s.exclusiveMinimum;
    const high = s.maximum ?? s.exclusiveMaximum;
    if (low !== undefined && high !== undefined)
      return `must be from ${String(low)}${s.exclusiveMinimum !== undefined ? ' (exclusive)' : ''} to ${String(high)}`;
  }
  return v.message ?? 'invalid';
}

function paramOf(v: Violation): string {
  const missing = (v.params as { missingProperty?: string }).missingProperty;
  return v.instancePath || `/${String(missing ?? '')}`;
}

export function errorHandler(err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) return send(reply, err.code, err.detail, err.extra);
  if ('validation' in err && err.validation) {
    const invalidParams = err.validation.map((v: Violation) => ({ param: paramOf(v), reason: reasonOf(v) }));
    return send(reply, 'INVALID_REQUEST', err.message, { invalidParams });
  }
  // Any other 4xx is fastify refusing the request before a route ran: say why, in the catalog's words.
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return send(reply, FRAMEWORK_STATUS[status] ?? 'INVALID_REQUEST', err.message);
  if (isUnavailable(err)) {
    // Debug only: the connections log an outage once, not once per request it refuses.
    req.log.debug({ err: err.message }, 'a dependency did not answer');
    return send(reply, 'UNAVAILABLE');
  }
  req.log.error({ err }, 'unhandled error');
  return send(reply, 'INTERNAL');
}

/**
 * What a connection gets when Node cannot parse its HTTP (a bad request line or header, headers over
 * Node's limit, too slow): the same problem+json as any refusal, written on the socket, which closes.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'INVALID_REQUEST';
  const body = JSON.stringify(problem(code));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${ERRORS[code].status} ${STATUS_CODES[ERRORS[code].status]}\r\n` +
        `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}
