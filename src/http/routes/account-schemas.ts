/**
 * Request schemas of the provisioning routes, and the amounts they carry. Every number is bounded
 * and every id is a plain word, so no request reaches the store with something it cannot hold.
 */
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { toBase } from '../present.js';

/** Account, balance, group and subscription ids, and references: no space, brace or quote. */
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:@+-]+$' });

/**
 * What makes a write happen once: the caller's own id for it, unique per account. The same
 * reference with the same request answers the first answer again; with another request, 409.
 */
export const Reference = Id;

export const Decimal = Type.String({
  maxLength: 40,
  pattern: '^\\d+(\\.\\d{1,9})?$',
  description: 'a decimal amount, at most 9 decimals, at most 9007199.254740991',
});

/** A JSON number amount: the unit's range is checked by `amountOf`. */
const Amount = Type.Number({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const Unit = Type.Union([
  Type.Literal('money'),
  Type.Literal('voice'),
  Type.Literal('data'),
  Type.Literal('sms'),
  Type.Literal('generic'),
]);

export const SubscriptionType = Type.String({ minLength: 1, maxLength: 16, pattern: '^[a-z0-9_]+$' });
export const Subscription = Type.Object(
  { type: SubscriptionType, value: Id, reference: Reference },
  { additionalProperties: false },
);

/** Consumption order: higher first. */
const Weight = Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 });
/** Diameter Rating-Group is an Unsigned32. */
const RatingGroup = Type.Integer({ minimum: 0, maximum: 4_294_967_295 });
const Label = Type.String({ minLength: 1, maxLength: 64 });
const Filters = {
  destinations: Type.Optional(Type.Array(Label, { maxItems: 256 })),
  ratingGroups: Type.Optional(Type.Array(RatingGroup, { maxItems: 256 })),
  categories: Type.Optional(Type.Array(Label, { maxItems: 256 })),
};
const Time = Type.String({ format: 'date-time', maxLength: 40 });
/** The paying chain's fields (docs/BALANCES.md): a blocker stops it; `*zero<step>` usage is free. */
const Paying = {
  blocker: Type.Optional(Type.Boolean()),
  ratingSubject: Type.Optional(
    Type.String({
      maxLength: 32,
      pattern: '^\\*zero[0-9]{1,12}(ns|us|ms|s|m|h)$',
      description: 'CGRateS *zero<duration>: usage taken from this balance is free, consumed in whole steps',
    }),
  ),
};
const Subject = Type.String({ minLength: 1, maxLength: 128 });

export const NewAccount = Type.Object(
  {
    id: Id,
    type: Type.Union([Type.Literal('prepaid'), Type.Literal('postpaid')]),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    subject: Subject,
    creditLimit: Type.Optional(Decimal),
    sharedGroup: Type.Optional(Id),
    subscriptions: Type.Optional(
      Type.Array(Type.Object({ type: SubscriptionType, value: Id }, { additionalProperties: false }), {
        maxItems: 32,
      }),
    ),
    reference: Reference,
  },
  { additionalProperties: false },
);

export const AccountPatch = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
    ),
    creditLimit: Type.Optional(Decimal),
    subject: Type.Optional(Subject),
    reference: Reference,
  },
  { additionalProperties: false },
);

export const NewBalance = Type.Object(
  {
    id: Id,
    unit: Unit,
    value: Type.Union([Decimal, Amount], {
      description: 'money: decimal string; voice: seconds; data: bytes; sms: messages',
    }),
    weight: Type.Optional(Weight),
    activation: Type.Optional(Time),
    expiry: Type.Optional(Time),
    ...Filters,
    ...Paying,
    shared: Type.Optional(Type.Boolean()),
    reference: Reference,
  },
  { additionalProperties: false },
);

export const BalancePatch = Type.Object(
  {
    weight: Type.Optional(Weight),
    activation: Type.Optional(Time),
    expiry: Type.Optional(Type.Union([Time, Type.Null()])),
    ...Filters,
    ...Paying,
    reference: Reference,
  },
  { additionalProperties: false },
);

export const Credit = Type.Object(
  {
    balanceId: Id,
    amount: Type.Union([Decimal, Amount]),
    kind: Type.Optional(Type.Union([Type.Literal('topup'), Type.Literal('refund'), Type.Literal('adjust')])),
    reference: Reference,
  },
  { additionalProperties: false },
);

export const Debit = Type.Object({ amount: Decimal, reference: Reference }, { additionalProperties: false });

/** DELETE routes take their reference in the query string (clients often drop a DELETE's body). */
export const ReferenceQuery = Type.Object({ reference: Reference }, { additionalProperties: false });

/**
 * The largest amount of each unit: balances hold integer base units up to 2^53 - 1
 * (Number.MAX_SAFE_INTEGER), nano units for money and voice.
 */
const RANGES: Record<string, string> = {
  money: 'a decimal from 0 to 9007199.254740991 (at most 9 decimals)',
  voice: 'seconds from 0 to 9007199.254740991 (at most 9 decimals)',
  data: 'whole bytes from 0 to 9007199254740991',
  sms: 'whole messages from 0 to 9007199254740991',
  generic: 'whole units from 0 to 9007199254740991',
};

/** An amount of `unit` in base units, or a 400 naming the field and the range it must be in. */
export function amountOf(unit: string, value: string | number, field: string, positive = false): number {
  let base = Number.NaN;
  try {
    base = toBase(unit, value, field);
  } catch {
    // answered below, with the range
  }
  if (Number.isSafeInteger(base) && base >= (positive ? 1 : 0)) return base;
  const range = `${RANGES[unit]}${positive ? ', more than 0' : ''}`;
  throw new AppError('INVALID_REQUEST', `${field} must be ${range}`, {
    invalidParams: [{ param: `/${field}`, reason: `must be ${range}` }],
  });
}

/** An ISO time in epoch ms (the schema checked its form; a date that is none is a 400). */
export function timeOf(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new AppError('INVALID_REQUEST', `${field} is not a time`);
  return ms;
}
