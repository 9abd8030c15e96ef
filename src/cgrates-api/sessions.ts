/**
 * SessionSv1.AuthorizeEvent / InitiateSession / UpdateSession / TerminateSession / ProcessCDR on
 * the engine's own charging: the sessions service (src/charging/sessions.ts, one step per request,
 * its replays) and one-shot events (src/charging/events.ts). A CGRateS session is one rating group
 * of an engine session named by OriginID (and OriginHost).
 *
 * Request numbers: CGRateS has none. An update or terminate takes the session's last request
 * number + 1, unless the event carries `RequestNumber` (a DiameterAgent template can copy
 * CC-Request-Number into it): then a retry replays the first answer and charges nothing again.
 */
import { randomUUID } from 'node:crypto';
import { chargeEvent, EventConflict, type EventRequest } from '../charging/events.js';
import { SessionError, type Phase, type SessionAnswer, type SessionRequest } from '../charging/sessions.js';
import { CgrError, exists, INSUFFICIENT_CREDIT, NOT_FOUND } from './errors.js';
import { fields, type Obj } from './params.js';
import {
  eventOf,
  maxUsageOf,
  readSessionEvent,
  serviceInformationOf,
  subscriptionIdsOf,
  unitsOf,
  type SessionEvent,
} from './session-event.js';
import type { CgrContext } from './context.js';

/** Diameter result codes in CGRateS's words (what its agents map the other way). */
const RESULT_ERRORS: Record<number, string> = {
  4010: 'ACCOUNT_DISABLED',
  4012: INSUFFICIENT_CREDIT,
  5030: 'ACCOUNT_NOT_FOUND',
  5031: 'RATING_PLAN_NOT_FOUND',
  5002: NOT_FOUND,
};

function resultError(code: number): CgrError {
  return new CgrError(RESULT_ERRORS[code] ?? `SERVER_ERROR: Diameter result ${code}`);
}

/** The explicit RequestNumber of the event, if any. */
function requestNumberOf(arg: Obj): number | null {
  const n = eventOf(arg).RequestNumber;
  if (n === undefined || n === null) return null;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > 4294967295)
    throw new CgrError(`NOT_CONVERTIBLE: Event.RequestNumber ${String(n)}`);
  return n;
}

async function handle(c: CgrContext, tenant: string, e: SessionEvent, phase: Phase, req: SessionRequest) {
  try {
    return (await c.sessions.handle(tenant, e.sessionId, phase, req)).answer;
  } catch (err) {
    if (!(err instanceof SessionError)) throw err;
    if (err.code === 'SESSION_NOT_FOUND') throw new CgrError(NOT_FOUND);
    throw new CgrError(`${err.code}: ${err.message}`);
  }
}

/** A one-shot event; the same CDR id with another body is EXISTS (changes nothing). */
async function charge(c: CgrContext, tenant: string, eventId: string, req: EventRequest) {
  try {
    return await chargeEvent(c.events, tenant, eventId, req, c.now());
  } catch (err) {
    if (err instanceof EventConflict) throw exists(`${eventId} was processed with another body`);
    throw err;
  }
}

/** The grant of the session's group as CGRateS's MaxUsage, or the refusal as its error. */
function maxUsage(e: SessionEvent, a: SessionAnswer): number {
  if (a.resultCode !== 2001) throw resultError(a.resultCode);
  return maxUsageOf(e.tor, a.mscc.find((m) => m.ratingGroup === e.ratingGroup)?.granted);
}

/** The next request of an open session: its number and what it used so far in this group. */
async function nextRequest(c: CgrContext, tenant: string, e: SessionEvent, arg: Obj, needUsed: boolean) {
  const explicit = requestNumberOf(arg);
  // With its own number and nothing to subtract, the request goes straight to the session (one read less).
  if (explicit !== null && !needUsed) return { requestNumber: explicit, usedSoFar: 0 };
  const s = await c.sessions.get(tenant, e.sessionId);
  if (!s) throw new CgrError(NOT_FOUND);
  if (explicit === null && s.state !== 'open') throw new CgrError(NOT_FOUND);
  return {
    requestNumber: explicit ?? s.lastRequest + 1,
    usedSoFar: s.groups[String(e.ratingGroup)]?.used ?? 0,
  };
}

const replyOf = (usage: number) => ({
  MaxUsage: usage,
  ResourceAllocation: null,
  Attributes: null,
  ThresholdIDs: null,
  StatQueueIDs: null,
});

export const sessionMethods = {
  /** Whether the balances pay the usage asked (CHECK_BALANCE): MaxUsage is all of it or 0. */
  async 'SessionSv1.AuthorizeEvent'(arg: Obj, c: CgrContext) {
    const tenant = c.tenantOf(fields(arg, 'V1AuthorizeArgs').str('Tenant'));
    const e = readSessionEvent(arg, c.now(), ['Account']);
    const asked = e.usage ?? (e.tor === 'voice' ? 60 : e.tor === 'data' ? 1_048_576 : 1);
    const req: EventRequest = {
      requestedAction: 'CHECK_BALANCE',
      eventTime: e.eventTime,
      serviceContextId: e.serviceContextId,
      subscriptionIds: subscriptionIdsOf(e.account),
      ...(serviceInformationOf(e) ? { serviceInformation: serviceInformationOf(e)! } : {}),
      mscc: [{ ratingGroup: e.ratingGroup, requested: unitsOf(e.tor, asked) }],
    };
    const { answer } = await charge(c, tenant, `cgr-auth:${randomUUID()}`, req);
    if (answer.resultCode !== 2001) throw resultError(answer.resultCode);
    const enough = answer.checkBalanceResult === 'ENOUGH_CREDIT';
    return { ...replyOf(enough ? maxUsageOf(e.tor, unitsOf(e.tor, asked)) : 0), RouteProfiles: null };
  },

  async 'SessionSv1.InitiateSession'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'V1InitSessionArgs');
    const tenant = c.tenantOf(f.str('Tenant'));
    const e = readSessionEvent(arg, c.now());
    if (!f.bool('InitSession')) return replyOf(0);
    const answer = await handle(c, tenant, e, 'initiate', {
      requestNumber: 0,
      eventTime: e.eventTime,
      serviceContextId: e.serviceContextId,
      subscriptionIds: subscriptionIdsOf(e.account),
      ...(serviceInformationOf(e) ? { serviceInformation: serviceInformationOf(e)! } : {}),
      mscc: [
        { ratingGroup: e.ratingGroup, ...(e.usage !== null ? { requested: unitsOf(e.tor, e.usage) } : {}) },
      ],
    });
    return replyOf(maxUsage(e, answer));
  },

  /** LastUsed is charged, Usage is what is asked for next. */
  async 'SessionSv1.UpdateSession'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'V1UpdateSessionArgs');
    const tenant = c.tenantOf(f.str('Tenant'));
    const e = readSessionEvent(arg, c.now());
    if (!f.bool('UpdateSession')) return replyOf(0);
    const { requestNumber } = await nextRequest(c, tenant, e, arg, false);
    const answer = await handle(c, tenant, e, 'update', {
      requestNumber,
      eventTime: e.eventTime,
      mscc: [
        {
          ratingGroup: e.ratingGroup,
          ...(e.usage !== null ? { requested: unitsOf(e.tor, e.usage) } : {}),
          ...(e.lastUsed !== null ? { used: [unitsOf(e.tor, e.lastUsed)] } : {}),
        },
      ],
    });
    return { MaxUsage: maxUsage(e, answer), ResourceAllocation: null, Attributes: null };
  },

  /** The last usage is LastUsed, or else Usage (the whole session's, as CGRateS reads it) less what was charged. */
  async 'SessionSv1.TerminateSession'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'V1TerminateSessionArgs');
    const tenant = c.tenantOf(f.str('Tenant'));
    const e = readSessionEvent(arg, c.now());
    if (!f.bool('TerminateSession')) return 'OK';
    const { requestNumber, usedSoFar } = await nextRequest(c, tenant, e, arg, e.lastUsed === null);
    const last = e.lastUsed ?? (e.usage !== null ? Math.max(0, e.usage - usedSoFar) : 0);
    const answer = await handle(c, tenant, e, 'terminate', {
      requestNumber,
      eventTime: e.eventTime,
      terminationCause: 'DIAMETER_LOGOUT',
      mscc: [{ ratingGroup: e.ratingGroup, used: [unitsOf(e.tor, last)] }],
    });
    if (answer.resultCode !== 2001) throw resultError(answer.resultCode);
    return 'OK';
  },

  /** A rated CDR charged once per OriginID (and OriginHost): the event's DIRECT_DEBITING. */
  async 'SessionSv1.ProcessCDR'(arg: Obj, c: CgrContext) {
    const tenant = c.tenantOf(fields(arg, 'CGREvent').str('Tenant'));
    const e = readSessionEvent(arg, c.now());
    const req: EventRequest = {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: e.eventTime,
      serviceContextId: e.serviceContextId,
      subscriptionIds: subscriptionIdsOf(e.account),
      ...(serviceInformationOf(e) ? { serviceInformation: serviceInformationOf(e)! } : {}),
      mscc: [{ ratingGroup: e.ratingGroup, requested: unitsOf(e.tor, e.usage ?? 0) }],
    };
    const { answer } = await charge(c, tenant, `cgr-cdr:${e.sessionId}`, req);
    if (answer.resultCode !== 2001) throw resultError(answer.resultCode);
    return 'OK';
  },
};
