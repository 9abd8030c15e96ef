/**
 * Accounts and balances as the balance store holds them. Money is integer nano units (10^-9 of
 * the account currency); voice balances hold nanoseconds (the rating core's base unit), data
 * bytes, SMS messages, generic units. All amounts are safe integers.
 */

export type AccountType = 'prepaid' | 'postpaid';
export type AccountStatus = 'active' | 'suspended' | 'closed';
export type BalanceUnit = 'money' | 'voice' | 'data' | 'sms' | 'generic';

export interface Subscription {
  /** msisdn, imsi, sip, nai, or any id that network requests and CDRs carry. */
  type: string;
  value: string;
}

export interface Account {
  tenant: string;
  id: string;
  type: AccountType;
  currency: string;
  status: AccountStatus;
  /** Postpaid only: how far below zero money may go, nano units. */
  creditLimitNano: number;
  /** The rating subject the account is priced as. */
  subject: string;
  /** The shared group whose balances the account also draws from (fixed at creation). */
  sharedGroup: string | null;
  subscriptions: Subscription[];
}

export interface BalanceFilters {
  /** Destination ids (from rating) the balance may pay for; empty = any. */
  destinations: string[];
  /** Rating groups (Gy) the balance may pay for; empty = any. */
  ratingGroups: number[];
  /** Categories (call, sms, data, ...); empty = any. */
  categories: string[];
}

export interface BalanceMeta extends BalanceFilters {
  unit: BalanceUnit;
  /** Higher is consumed first. */
  weight: number;
  /** Epoch ms; 0 = always active / null = never expires. */
  activationMs: number;
  expiryMs: number | null;
  /** Set when the balance belongs to the account's shared group rather than the account. */
  shared: boolean;
  /** A blocker that cannot pay what is left stops the paying chain (docs/BALANCES.md). */
  blocker: boolean;
  /**
   * CGRateS's rating subject of usage taken from this unit balance: `*zero<step>` (free, consumed in
   * whole steps, e.g. `*zero1m`) or '' (consumed unit for unit).
   */
  ratingSubject: string;
}

export interface Balance extends BalanceMeta {
  id: string;
  /** Current value (nano for money, base units otherwise). */
  value: number;
  /** Held by open reservations. */
  held: number;
}

/** One change of one balance, as results report it and the ledger records it. */
export interface Movement {
  balanceId: string;
  unit: BalanceUnit;
  /** Change of the value (negative for a debit). */
  delta: number;
  /** Change of the held amount (reserve: +, commit/release/expiry: -). */
  heldDelta: number;
  valueAfter: number;
}

/** What a usage costs, as the charging layers pass it to the store. */
export interface Charge {
  unit: Exclude<BalanceUnit, 'money'>;
  /** Usage in base units (ns of voice, bytes, messages). 0 for a pure money charge. */
  units: number;
  /** The money price of all `units` at the rated price, nano. */
  amountNano: number;
  /**
   * What balance destination filters match: rating's `balanceDestinations` ('length:id,…', see
   * rating/balance-match.ts), or a bare destination id.
   */
  destination?: string;
  category?: string;
  ratingGroup?: number;
}
