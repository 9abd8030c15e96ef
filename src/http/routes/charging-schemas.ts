/** Request pieces shared by the charging routes (events and sessions): units, subscribers, service information. */
import { Type } from 'typebox';

export const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const UnitFields = {
  time: Type.Optional(Count),
  totalOctets: Type.Optional(Count),
  inputOctets: Type.Optional(Count),
  outputOctets: Type.Optional(Count),
  serviceSpecificUnits: Type.Optional(Count),
};

export const Units = Type.Object(UnitFields, { additionalProperties: false });

export const RatingGroup = Type.Integer({ minimum: 0, maximum: 4294967295 });

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
      data: Type.String({ minLength: 1, maxLength: 128 }),
    },
    { additionalProperties: false },
  ),
  { minItems: 1, maxItems: 8 },
);

export const ServiceInformation = Type.Object({
  sms: Type.Optional(
    Type.Object({ recipients: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 100 })) }),
  ),
  ims: Type.Optional(Type.Object({ calledParty: Type.Optional(Type.String({ minLength: 1 })) })),
  ps: Type.Optional(Type.Object({})),
});
