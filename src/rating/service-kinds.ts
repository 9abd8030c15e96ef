/**
 * The service-context table: which category and type of record a request's service context id
 * (3GPP TS 32.299, or a vendor's own) is rated as, and which of the request's units is its usage.
 * Configuration (the tariff folder's network.json), with the four 3GPP contexts as defaults, so an
 * operator maps vendor contexts (`…@huawei.com`, MMS `32270@3gpp.org`, generic events) without code.
 * Pure data and checks; the lookup is in src/charging/service-context.ts.
 */
import type { ServiceKind, Tor, UsageField } from './model.js';
import { parseTor } from './units.js';

export type { ServiceKind, UsageField } from './model.js';

export type ServiceKinds = ReadonlyMap<string, ServiceKind>;

export const DEFAULT_SERVICE_CONTEXTS: Readonly<Record<string, ServiceKind>> = {
  '32251@3gpp.org': { category: 'data', tor: 'data', usage: 'totalOctets' },
  '32260@3gpp.org': { category: 'call', tor: 'voice', usage: 'time' },
  '32275@3gpp.org': { category: 'call', tor: 'voice', usage: 'time' },
  '32274@3gpp.org': { category: 'sms', tor: 'sms', usage: 'serviceSpecificUnits' },
};

/** The usage fields that make sense for each type of record (a voice usage counted in bytes does not). */
const FIELDS_OF: Readonly<Record<Tor, readonly UsageField[]>> = {
  voice: ['time'],
  data: ['totalOctets', 'inputOctets', 'outputOctets'],
  sms: ['serviceSpecificUnits'],
  generic: ['serviceSpecificUnits', 'time', 'totalOctets', 'inputOctets', 'outputOctets'],
};

const DEFAULT_FIELD: Readonly<Record<Tor, UsageField>> = {
  voice: 'time',
  data: 'totalOctets',
  sms: 'serviceSpecificUnits',
  generic: 'serviceSpecificUnits',
};

export const MAX_SERVICE_CONTEXTS = 256;

/** The defaults with the configured contexts over them (a configured id replaces a default). */
export function compileServiceKinds(
  configured: Readonly<Record<string, ServiceKind>> | undefined,
): ServiceKinds {
  return new Map(Object.entries({ ...DEFAULT_SERVICE_CONTEXTS, ...configured }));
}

/** A configured context as written (tor may be `*sms`, usage may be left out), or a problem. */
export function parseServiceKind(v: unknown): ServiceKind | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object';
  const { category, tor, usage, ...rest } = v as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) return `unknown field "${extra}"`;
  if (typeof category !== 'string' || category === '' || category.length > 128)
    return 'category must be a string of 1 to 128 characters';
  const t = parseTor(tor);
  if (!t) return 'tor must be one of voice, data, sms, generic';
  const field = usage ?? DEFAULT_FIELD[t];
  if (!FIELDS_OF[t].includes(field as UsageField))
    return `usage of ${t} must be one of ${FIELDS_OF[t].join(', ')}`;
  return { category, tor: t, usage: field as UsageField };
}
