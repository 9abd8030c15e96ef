/**
 * The shapes of charging sessions: requests, answers, the per-session record kept in Redis, and the
 * small rules that need no I/O (final units, quota thresholds, the command-level result code).
 */
import { createHash } from 'node:crypto';
import { MAX_JSON_DEPTH, valueDeeperThan } from './json-depth.js';
import { nameOf, type ResultName } from './result-codes.js';
import type { ServiceInformation, ServiceKind, Units } from './service-context.js';

export interface SessionMscc {
  ratingGroup: number;
  requested?: Units;
  used?: Units[];
}

export interface SessionRequest {
  requestNumber: number;
  eventTime: string;
  serviceContextId?: string;
  subscriptionIds?: { type: string; data: string }[];
  serviceInformation?: ServiceInformation;
  mscc?: SessionMscc[];
  terminationCause?: string;
  retransmission?: boolean;
}

export interface MsccAnswer {
  ratingGroup: number;
  resultCode: number;
  granted?: Units;
  validityTime?: number;
  timeQuotaThreshold?: number;
  volumeQuotaThreshold?: number;
  unitQuotaThreshold?: number;
  finalUnitIndication?: FinalUnitIndication;
}

export interface FinalUnitIndication {
  finalUnitAction: 'TERMINATE' | 'REDIRECT' | 'RESTRICT_ACCESS';
  redirectServer?: { addressType: 'URL'; address: string };
}

/**
 * What the network does when the last units are used: voice and SMS end (TERMINATE); data is
 * redirected to the top-up portal when one is configured (the customer can pay and go on), else
 * ended. The portal URL may carry `{msisdn}`.
 */
export function finalUnitFor(
  tor: string,
  topUpUrl: string | undefined,
  subscriber: string,
): FinalUnitIndication {
  if (tor !== 'data' || !topUpUrl) return { finalUnitAction: 'TERMINATE' };
  return {
    finalUnitAction: 'REDIRECT',
    redirectServer: {
      addressType: 'URL',
      address: topUpUrl.replace('{msisdn}', encodeURIComponent(subscriber)),
    },
  };
}

/** The client asks again when this much of a grant is left: 20 % of it (thresholds avoid gaps). */
export function thresholdFor(tor: string, granted: number): Partial<MsccAnswer> {
  const t = Math.floor(granted * 0.2);
  if (t === 0) return {};
  if (tor === 'voice') return { timeQuotaThreshold: t };
  if (tor === 'data') return { volumeQuotaThreshold: t };
  return { unitQuotaThreshold: t };
}

export interface SessionAnswer {
  sessionId: string;
  requestNumber: number;
  resultCode: number;
  resultName: ResultName;
  sessionExpiresAt?: string;
  mscc: MsccAnswer[];
  costInformation?: { amount: string; currency: string };
}

export type Phase = 'initiate' | 'update' | 'terminate';
/** A step of a session: a request's phase, or the engine's own close of a silent session (Tcc). */
export type StepPhase = Phase | 'expire';

export class SessionError extends Error {
  constructor(
    readonly code:
      | 'SESSION_NOT_FOUND'
      | 'REQUEST_CONFLICT'
      | 'REQUEST_TOO_OLD'
      | 'SESSION_EXISTS'
      | 'INVALID_REQUEST_NUMBER'
      | 'MANDATORY_IE_MISSING'
      | 'BUSY',
    message: string,
  ) {
    super(message);
  }
}

/** Default quota when a request asks the server to choose (`requested: {}`), per kind of service. */
export const DEFAULT_QUOTA: Record<string, number> = {
  voice: 300,
  data: 10 * 1024 * 1024,
  sms: 1,
  generic: 1,
};
/** Answers a session keeps for replays: its last requests' (KEEP_ANSWERS in balances/lua/step.lua). */
export const KEPT_ANSWERS = 64;
export const VALIDITY_SECONDS: Record<string, number> = { voice: 300, data: 3600, sms: 300, generic: 300 };

export interface Group {
  reservationId: string | null;
  /** What the open reservation holds, per unit, and when it expires (known once it was made). */
  holds?: { unit: string; amount: number }[];
  reservationExpiresMs?: number;
  /** Usage settled so far (in the event's unit) and the money it cost, exact to the nano. */
  used: number;
  chargedNano: number;
  quota: number;
  /** Whether bundles paid part of it: then there is no money price to round at the end. */
  bundles: boolean;
}

export const newGroup = (): Group => ({
  reservationId: null,
  used: 0,
  chargedNano: 0,
  quota: 0,
  bundles: false,
});

export interface SessionRecord {
  tenant: string;
  accountId: string;
  subject: string;
  currency: string;
  category: string;
  tor: ServiceKind['tor'];
  /** Which unit field is the usage (service-kinds.ts); absent in sessions opened before it was kept. */
  usage?: ServiceKind['usage'];
  destination: string;
  state: 'open' | 'closed';
  /** Tcc: when the session expires unless a request comes (its reservations expire with it). */
  expiresAtMs: number;
  /** The initiate's event time: the whole session is priced from there at terminate. */
  startedAt: string;
  /** The subscription id the session was opened with (for the top-up redirect). */
  subscriber: string;
  /** Per rating group: the open reservation, usage settled so far (base units) and money charged (nano). */
  groups: Record<string, Group>;
  /** The highest request number processed (the engine's own close by expiry follows it). */
  lastRequest: number;
}

/**
 * The command-level code: a barred account is 4010 (and closes the session); an initiate that
 * granted nothing fails with its groups' common code and opens no session; otherwise 2001 with the
 * per-group codes carrying the failures (RFC 4006: a failed update would close the session).
 */
export function commandResult(phase: Phase, barred: boolean, answers: MsccAnswer[]): ResultName {
  if (barred) return 'DIAMETER_END_USER_SERVICE_DENIED';
  if (phase !== 'initiate' || answers.length === 0 || answers.some((a) => a.granted))
    return 'DIAMETER_SUCCESS';
  return nameOf(answers.find((a) => a.resultCode !== 2001)?.resultCode ?? 2001);
}

export function fingerprintOf(phase: Phase, req: SessionRequest): string {
  const { retransmission: _r, ...body } = req;
  // JSON.stringify recurses: hash only what the HTTP edge would have let through.
  if (valueDeeperThan(body, MAX_JSON_DEPTH))
    throw new RangeError(`a request nests deeper than ${MAX_JSON_DEPTH}`);
  return createHash('sha1')
    .update(JSON.stringify([phase, body]))
    .digest('hex');
}

/** What a session's record holds that never changes after the initiate (stored once). */
export type SessionInfo = Omit<SessionRecord, 'state' | 'expiresAtMs' | 'groups' | 'lastRequest'>;

/**
 * The parts of a session that each request changes, as stored. What a reservation the step makes
 * holds is known only to the step script: `reserving` names, per rating group, the step's
 * operation (1-based) whose holds the script writes in place of the marker `"holds":"$h<op>"`, so
 * the stored session says all a later step needs, whichever engine plans it.
 */
export function stateOf(s: SessionRecord, reserving: ReadonlyMap<string, number> = new Map()): string {
  const groups: Record<string, Group | (Omit<Group, 'holds'> & { holds: string })> = { ...s.groups };
  for (const [rg, op] of reserving) if (groups[rg]) groups[rg] = { ...groups[rg], holds: `$h${op}` };
  return JSON.stringify({
    state: s.state,
    expiresAtMs: s.expiresAtMs,
    groups,
    lastRequest: s.lastRequest,
  });
}

export function infoOf(s: SessionRecord): string {
  const { state: _s, expiresAtMs: _e, groups: _g, lastRequest: _l, ...info } = s;
  return JSON.stringify(info satisfies SessionInfo);
}

export function sessionFrom(info: string, state: string): SessionRecord {
  return {
    ...(JSON.parse(info) as SessionInfo),
    ...(JSON.parse(state) as Pick<SessionRecord, 'state' | 'expiresAtMs' | 'groups' | 'lastRequest'>),
  };
}
