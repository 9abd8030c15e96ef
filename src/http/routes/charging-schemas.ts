/** Request pieces shared by the charging routes (events and sessions): units, subscribers, service information. */
import { Type } from 'typebox';
import { MAX_USAGE } from '../../rating/units.js';

/** Diameter Unsigned32 (rating groups, service identifiers, request numbers). */
export const Unsigned32 = Type.Integer({ minimum: 0, maximum: 4294967295 });

/**
 * Units a request may carry, bounded by what one event may rate (rating/units.ts MAX_USAGE): CC-Time
 * in seconds as voice, octets as data, service-specific units as the larger of sms and generic.
 */
const usage = (max: number) => Type.Optional(Type.Integer({ minimum: 0, maximum: max }));
export const UnitFields = {
  time: usage(MAX_USAGE.voice),
  totalOctets: usage(MAX_USAGE.data),
  inputOctets: usage(MAX_USAGE.data),
  outputOctets: usage(MAX_USAGE.data),
  serviceSpecificUnits: usage(Math.max(MAX_USAGE.sms, MAX_USAGE.generic)),
};

export const Units = Type.Object(UnitFields, { additionalProperties: false });

export const RatingGroup = Unsigned32;

/** Free text the engine only stores or matches (causes, reasons, a service context). */
export const ShortText = Type.String({ minLength: 1, maxLength: 128 });

/** RFC 3339; parsed by the charging code, which names the field when it is not a time. */
export const EventTime = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'RFC 3339, the network element clock',
});

/** A Diameter Session-Id style name: printable ASCII, no spaces (it may hold `;`). */
export const DiameterId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

export const SubscriptionIds = Type.Array(
  Type.Object(
    {
      type: Type.Union([
        Type.Literal('E164'),
        Type.Literal('IMSI'),
        Type.Literal('SIP_URI'),
        Type.Literal('NAI'),
        Type.Literal('PRIVATE'),
      ]),
      // Printable ASCII without braces: inside what a stored subscription may be (balances/keys.ts
      // clean: no whitespace or brace, 128 UTF-16 units), so an id is found or unknown, never an error.
      data: Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7a|~]+$' }),
    },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: 8 },
);

/** A called party or recipient: a number or a SIP/tel URI, matched against destination prefixes. */
const Party = Type.String({ minLength: 1, maxLength: 256 });

/** Other fields a network element sends ride along (they are kept in the fingerprint), depth-bounded. */
export const ServiceInformation = Type.Object({
  sms: Type.Optional(Type.Object({ recipients: Type.Optional(Type.Array(Party, { maxItems: 100 })) })),
  ims: Type.Optional(Type.Object({ calledParty: Type.Optional(Party) })),
  ps: Type.Optional(Type.Object({})),
});
