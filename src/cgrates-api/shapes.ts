/**
 * The engine's accounts in CGRateS's shapes (engine/account.go, engine/balances.go): pure, no I/O.
 * Uuid is the balance id: the engine has one id per balance, and a CRM reads it back by either.
 */
import type { BalanceUnit } from '../balances/model.js';
import type { SnapshotBalance } from '../balances/snapshot.js';
import type { AccountView } from '../balances/store.js';
import { GO_ZERO_TIME, goTime } from './go-time.js';
import { nanoNumber, type RawNumber } from './money.js';

/** CGRateS balance types (utils.MetaMonetary, …) and the engine's units. */
export const BALANCE_TYPES: Record<string, BalanceUnit> = {
  '*monetary': 'money',
  '*voice': 'voice',
  '*data': 'data',
  '*sms': 'sms',
  '*generic': 'generic',
};
const TYPE_OF: Record<BalanceUnit, string> = Object.fromEntries(
  Object.entries(BALANCE_TYPES).map(([t, u]) => [u, t]),
) as Record<BalanceUnit, string>;

/** Go's zero time.Time, where the facade's shapes have always taken it from. */
export { GO_ZERO_TIME } from './go-time.js';

/** A set as CGRateS marshals utils.StringMap: `{"id": true}`. */
const stringMap = (ids: readonly string[]) => Object.fromEntries(ids.map((id) => [id, true]));

export interface CgrBalance {
  Uuid: string;
  ID: string;
  /** Money as an exact decimal; voice in nanoseconds, data in bytes, sms and generic in units. */
  Value: number | RawNumber;
  ExpirationDate: string;
  Weight: number;
  DestinationIDs: Record<string, boolean>;
  RatingSubject: string;
  Categories: Record<string, boolean>;
  SharedGroups: Record<string, boolean>;
  Timings: null;
  TimingIDs: Record<string, boolean>;
  Disabled: boolean;
  Factor: null;
  Blocker: boolean;
}

export function cgrBalance(b: SnapshotBalance, sharedGroup: string | null): CgrBalance {
  return {
    Uuid: b.id,
    ID: b.id,
    Value: b.unit === 'money' ? nanoNumber(b.value) : b.value,
    ExpirationDate: b.expiryMs === null ? GO_ZERO_TIME : goTime(b.expiryMs),
    Weight: b.weight,
    DestinationIDs: stringMap(b.destinations),
    RatingSubject: b.ratingSubject,
    Categories: stringMap(b.categories),
    SharedGroups: b.shared && sharedGroup ? stringMap([sharedGroup]) : {},
    Timings: null,
    TimingIDs: {},
    Disabled: false,
    Factor: null,
    Blocker: b.blocker,
  };
}

/**
 * engine.Account: `ID` is "tenant:account"; balances grouped by type, in the engine's order.
 * `actionTriggers`: its engine.ActionTriggers as GetAccountActionTriggers answers them (null when
 * none, as CGRateS marshals an account that never had any).
 */
export function cgrAccount<T>(v: AccountView, actionTriggers: readonly T[] = []) {
  const map: Record<string, CgrBalance[]> = {};
  for (const b of v.balances) (map[TYPE_OF[b.unit]] ??= []).push(cgrBalance(b, v.account.sharedGroup));
  return {
    ID: `${v.account.tenant}:${v.account.id}`,
    // CGRateS's SetAccount leaves the map nil, which Go writes as null (not {}).
    BalanceMap: v.balances.length ? map : null,
    UnitCounters: null,
    ActionTriggers: actionTriggers.length ? actionTriggers : null,
    AllowNegative: v.account.type === 'postpaid',
    Disabled: v.account.status !== 'active',
    UpdateTime: GO_ZERO_TIME,
  };
}
