/**
 * A CGRateS session event (utils.CGREvent's `Event` map: Account, Destination, OriginID, ToR,
 * Usage, LastUsed, AnswerTime …) read into what the engine's charging requests hold. Pure.
 */
import { MAX_USAGE } from '../rating/units.js';
import { jsonKind, mandatoryMissing, notConvertible, unmarshalError, unsupportedFormat } from './errors.js';
import { fields, goDuration, type Obj } from './params.js';

type Tor = 'voice' | 'data' | 'sms';

/** What each CGRateS ToR is in the engine: its 3GPP service context and default rating group. */
const TORS: Record<string, { tor: Tor; context: string; ratingGroup: number }> = {
  '*voice': { tor: 'voice', context: '32260@3gpp.org', ratingGroup: 100 },
  '*data': { tor: 'data', context: '32251@3gpp.org', ratingGroup: 200 },
  '*sms': { tor: 'sms', context: '32274@3gpp.org', ratingGroup: 300 },
};

export interface SessionEvent {
  /** `OriginID`, or `OriginID@OriginHost` when the host is given (CGRateS keys sessions by both). */
  sessionId: string;
  account: string;
  destination: string;
  tor: Tor;
  serviceContextId: string;
  ratingGroup: number;
  eventTime: string;
  /** Usage and LastUsed in the engine's units (seconds, octets, messages); null when absent. */
  usage: number | null;
  lastUsed: number | null;
}

/** The `Event` map of a CGREvent-shaped argument (embedded in V1InitSessionArgs and friends). */
export function eventOf(arg: Obj): Obj {
  const event = fields(arg, 'CGREvent').obj('Event');
  return event;
}

/**
 * A duration field: a number is nanoseconds (Go's time.Duration), a string Go's duration or a bare
 * integer of nanoseconds. Data and SMS usage are plain numbers (octets, messages) in CGRateS too.
 */
function usageOf(event: Obj, name: string, tor: Tor): number | null {
  const v = event[name];
  if (v === undefined || v === null || v === '') return null;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') n = tor === 'voice' ? goDuration(v, name) : Number(v);
  else throw unmarshalError(jsonKind(v), 'CGREvent', `Event.${name}`, 'time.Duration');
  if (!Number.isSafeInteger(n) || n < 0) throw notConvertible(`Event.${name} ${String(v)}`);
  // Voice: nanoseconds to the engine's whole seconds, rounded up (a started second is used).
  const units = tor === 'voice' ? Math.ceil(n / 1e9) : n;
  if (units > MAX_USAGE[tor])
    throw notConvertible(`Event.${name} ${String(v)} is more than one event may hold`);
  return units;
}

/** RFC 3339 or unix seconds (utils.ParseTimeDetectLayout's common layouts), else now. */
function timeOf(event: Obj, nowMs: number): string {
  const s = event.AnswerTime ?? event.SetupTime;
  if (s === undefined || s === null || s === '' || s === '*now') return new Date(nowMs).toISOString();
  if (typeof s !== 'string') throw unsupportedFormat(`Event.AnswerTime ${String(s)}`);
  if (/^\d+$/.test(s)) return new Date(Number(s) * 1000).toISOString();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s))
    throw unsupportedFormat(`Event.AnswerTime ${s}`);
  return s;
}

const str = (event: Obj, name: string): string => {
  const v = event[name];
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return String(v); // an Account or Destination sent as a number
  if (typeof v !== 'string') throw unmarshalError(jsonKind(v), 'CGREvent', `Event.${name}`, 'string');
  return v;
};

export function readSessionEvent(
  arg: Obj,
  nowMs: number,
  need: string[] = ['Account', 'OriginID'],
): SessionEvent {
  const event = eventOf(arg);
  const missing = need.filter((n) => str(event, n) === '');
  if (missing.length) throw mandatoryMissing(missing);
  const kind = TORS[str(event, 'ToR') || '*voice'];
  if (!kind) throw unsupportedFormat(`Event.ToR ${str(event, 'ToR')}`);
  const host = str(event, 'OriginHost');
  const sessionId = `${str(event, 'OriginID')}${host ? `@${host}` : ''}`;
  if (sessionId.length > 256 || !/^[\x21-\x7e]*$/.test(sessionId))
    throw unsupportedFormat('Event.OriginID and OriginHost: at most 256 printable ASCII characters');
  const rg = event.RatingGroup;
  return {
    sessionId,
    account: str(event, 'Account'),
    destination: str(event, 'Destination'),
    tor: kind.tor,
    serviceContextId: kind.context,
    ratingGroup: typeof rg === 'number' && Number.isSafeInteger(rg) && rg >= 0 ? rg : kind.ratingGroup,
    eventTime: timeOf(event, nowMs),
    usage: usageOf(event, 'Usage', kind.tor),
    lastUsed: usageOf(event, 'LastUsed', kind.tor),
  };
}

/** The engine's units object for a count in the event's unit. */
export function unitsOf(tor: Tor, n: number) {
  if (tor === 'voice') return { time: n };
  if (tor === 'data') return { totalOctets: n };
  return { serviceSpecificUnits: n };
}

/** A grant back in CGRateS's unit: nanoseconds for voice, octets and messages as they are. */
export function maxUsageOf(
  tor: Tor,
  granted: { time?: number; totalOctets?: number; serviceSpecificUnits?: number } | undefined,
): number {
  if (!granted) return 0;
  if (tor === 'voice') return (granted.time ?? 0) * 1e9;
  if (tor === 'data') return granted.totalOctets ?? 0;
  return granted.serviceSpecificUnits ?? 0;
}

/** How the engine finds the subscriber: CGRateS's Account is an account id or a number. */
export function subscriptionIdsOf(account: string) {
  return [
    { type: 'PRIVATE', data: account },
    { type: 'E164', data: account },
  ];
}

/** Where the destination goes in the request (the number the tariff prices). */
export function serviceInformationOf(e: SessionEvent) {
  if (!e.destination) return undefined;
  if (e.tor === 'voice') return { ims: { calledParty: e.destination } };
  if (e.tor === 'sms') return { sms: { recipients: [e.destination] } };
  return undefined;
}
