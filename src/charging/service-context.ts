/**
 * What a request's service context says about rating: the category and type of record, where the
 * destination is, and which requested unit is the usage. The table is configuration
 * (src/rating/service-kinds.ts: the 3GPP TS 32.299 ids by default, vendor ids from network.json);
 * the number goes through the tenant's number rules (src/rating/number-format.ts).
 */
import type { CompiledTariff } from '../rating/index.js';
import type { ServiceKind, UsageField } from '../rating/model.js';
import { dialledNumber } from '../rating/number-format.js';

export type { ServiceKind } from '../rating/model.js';

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

/** A kind as a session remembers it: without `usage`, the type of record's usual field counts. */
export type UsageKind = Pick<ServiceKind, 'tor'> & Partial<ServiceKind>;

/**
 * The service kind of a context id: the id as configured, else its service part without the
 * extension, operator and release labels TS 32.299 allows before it ("8.32274@3gpp.org").
 */
export function serviceKind(tariff: CompiledTariff, serviceContextId: string): ServiceKind | undefined {
  const exact = tariff.serviceKinds.get(serviceContextId);
  if (exact) return exact;
  const at = serviceContextId.lastIndexOf('@');
  const dot = serviceContextId.lastIndexOf('.', at);
  return at > 0 && dot >= 0 ? tariff.serviceKinds.get(serviceContextId.slice(dot + 1)) : undefined;
}

/** The number rated: the first SMS recipient, or the IMS called party, through the tenant's rules. */
export function destinationOf(
  tariff: CompiledTariff,
  tenant: string,
  info: ServiceInformation | undefined,
): string {
  const raw = info?.sms?.recipients?.[0] ?? info?.ims?.calledParty ?? '';
  return dialledNumber(tariff.numbers, tenant, raw);
}

function fieldOf(kind: UsageKind): UsageField {
  if (kind.usage) return kind.usage;
  return kind.tor === 'voice' ? 'time' : kind.tor === 'data' ? 'totalOctets' : 'serviceSpecificUnits';
}

/** Usage in the event's unit from the units a request names for its service kind. */
export function usageOf(kind: UsageKind, u: Units | undefined): number | undefined {
  if (!u) return undefined;
  const field = fieldOf(kind);
  if (field !== 'totalOctets') return u[field];
  return (
    u.totalOctets ??
    (u.inputOctets !== undefined || u.outputOctets !== undefined
      ? (u.inputOctets ?? 0) + (u.outputOctets ?? 0)
      : undefined)
  );
}

/** The same units back, in the field the service kind uses. */
export function unitsFor(kind: UsageKind, usage: number): Units {
  return { [fieldOf(kind)]: usage };
}
