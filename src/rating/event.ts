/**
 * A usage event as the rating core sees it, and the check that turns untrusted input (a JSON
 * line, an HTTP body, a CDR) into one, naming the field that is wrong.
 */
import type { Tor } from './model.js';
import { ratingError, RatingErrorCode, type RatingError } from './errors.js';
import { MAX_USAGE, parseTor, usageToBase } from './units.js';
import { isRealTime } from './real-time.js';

export interface RatingEvent {
  tenant: string;
  category: string;
  subject: string;
  /** The dialled number; "" for data. */
  destination: string;
  /** When usage starts, epoch ms. */
  answerTimeMs: number;
  /** Base units (ns for voice, bytes, messages, units): see units.ts. */
  usage: number;
  tor: Tor;
  /** false for a later chunk of a session: no connect fee (CGRateS LoopIndex > 0). Default true. */
  firstSegment?: boolean;
  /** Usage already rated earlier in the same session, base units: slots count from the session start. */
  elapsedBefore?: number;
}

/** ISO-8601 with an explicit offset (Z or ±hh:mm): a time without a zone is ambiguous. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export function parseIsoTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || !ISO_WITH_OFFSET.test(s) || !isRealTime(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

function invalid(field: string, message: string): RatingError {
  return ratingError(RatingErrorCode.INVALID_EVENT, message, field);
}

function str(o: Record<string, unknown>, field: string, required: boolean): string | RatingError {
  const v = o[field];
  if (v === undefined || v === null) return required ? invalid(field, `${field} is required`) : '';
  if (typeof v !== 'string') return invalid(field, `${field} must be a string`);
  if (required && v.length === 0) return invalid(field, `${field} must not be empty`);
  return v;
}

/**
 * Checks an external event: `tenant`, `category`, `subject`, `destination`, `answerTime`
 * (ISO-8601 with offset), `usage` (seconds for voice, bytes, messages, units) and `tor`; optional
 * `firstSegment: false` for a later chunk of a session (no connect fee).
 */
export function parseEvent(input: unknown): RatingEvent | RatingError {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return invalid('', 'an event must be a JSON object');
  }
  const o = input as Record<string, unknown>;
  const tenant = str(o, 'tenant', true);
  if (typeof tenant !== 'string') return tenant;
  const category = str(o, 'category', true);
  if (typeof category !== 'string') return category;
  const subject = str(o, 'subject', true);
  if (typeof subject !== 'string') return subject;
  const destination = str(o, 'destination', false);
  if (typeof destination !== 'string') return destination;
  const tor = parseTor(o.tor);
  if (!tor)
    return invalid('tor', 'tor must be one of voice, data, sms, generic (or *voice, *data, *sms, *generic)');
  const answerTimeMs = parseIsoTime(o.answerTime);
  if (answerTimeMs === undefined) {
    return invalid(
      'answerTime',
      'answerTime must be an ISO-8601 time with an offset, e.g. 2026-11-20T09:30:00Z',
    );
  }
  const usage = o.usage;
  if (typeof usage !== 'number' || !Number.isFinite(usage) || usage < 0) {
    return invalid('usage', 'usage must be a number >= 0');
  }
  if (tor !== 'voice' && !Number.isInteger(usage))
    return invalid('usage', `usage of ${tor} must be a whole number`);
  if (usage > MAX_USAGE[tor]) return invalid('usage', `usage of ${tor} may not exceed ${MAX_USAGE[tor]}`);
  const firstSegment = o.firstSegment;
  if (firstSegment !== undefined && typeof firstSegment !== 'boolean') {
    return invalid('firstSegment', 'firstSegment must be true or false');
  }
  const ev: RatingEvent = {
    tenant,
    category,
    subject,
    destination,
    answerTimeMs,
    usage: usageToBase(tor, usage),
    tor,
  };
  if (firstSegment === false) ev.firstSegment = false;
  return ev;
}
