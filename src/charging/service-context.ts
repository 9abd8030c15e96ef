/**
 * What a request's service context says about rating: the category and type of record, where the
 * destination is, and which requested unit is the usage (3GPP service context ids, TS 32.299).
 */
import type { Tor } from '../rating/model.js';

export interface Units {
  time?: number;
  totalOctets?: number;
  inputOctets?: number;
  outputOctets?: number;
  serviceSpecificUnits?: number;
}

export interface ServiceInformation {
  sms?: { recipients?: string[] };
  ims?: { calledParty?: string };
}

export interface ServiceKind {
  category: string;
  tor: Tor;
}

const CONTEXTS: Readonly<Record<string, ServiceKind>> = {
  '32251@3gpp.org': { category: 'data', tor: 'data' },
  '32260@3gpp.org': { category: 'call', tor: 'voice' },
  '32275@3gpp.org': { category: 'call', tor: 'voice' },
  '32274@3gpp.org': { category: 'sms', tor: 'sms' },
};

/** The service kind of a context id ("32274@3gpp.org", or with a vendor prefix "8.32274@3gpp.org"). */
export function serviceKind(serviceContextId: string): ServiceKind | undefined {
  const m = /(\d{5}@3gpp\.org)$/.exec(serviceContextId);
  return m ? CONTEXTS[m[1]!] : undefined;
}

/** The dialled number: the first SMS recipient, or the IMS called party without its URI scheme. */
export function destinationOf(info: ServiceInformation | undefined): string {
  const raw = info?.sms?.recipients?.[0] ?? info?.ims?.calledParty ?? '';
  const number = raw.replace(/^(tel:|sip:|sips:)/, '').replace(/@.*$/, '');
  return number && !number.startsWith('+') && /^\d{7,}$/.test(number) ? `+${number}` : number;
}

/** Usage in the event's unit from the units a request names for its service kind. */
export function usageOf(kind: ServiceKind, u: Units | undefined): number | undefined {
  if (!u) return undefined;
  if (kind.tor === 'voice') return u.time;
  if (kind.tor === 'data')
    return (
      u.totalOctets ??
      (u.inputOctets !== undefined || u.outputOctets !== undefined
        ? (u.inputOctets ?? 0) + (u.outputOctets ?? 0)
        : undefined)
    );
  return u.serviceSpecificUnits;
}

/** The same units back, in the field the service kind uses. */
export function unitsFor(kind: ServiceKind, usage: number): Units {
  if (kind.tor === 'voice') return { time: usage };
  if (kind.tor === 'data') return { totalOctets: usage };
  return { serviceSpecificUnits: usage };
}
