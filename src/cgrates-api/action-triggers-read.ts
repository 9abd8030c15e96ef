/**
 * CGRateS action triggers (engine.ActionTrigger) as the facade reads, stores and answers them, and
 * the notification rule each one bound to an account becomes (src/notifications/rules.ts): pure.
 *
 * Only what maps exactly onto a rule is taken: `*min_balance` on `*monetary` balances. CGRateS fires
 * at or below ThresholdValue (`b.GetValue() <= at.ThresholdValue`, engine/account.go); the rule
 * `money_below` fires strictly below its amount, so X maps to X + 1 nano (the same integers), and 0
 * to `money_exhausted` (value <= 0). The keys CGRateS honours that the rules cannot (a balance id,
 * destinations, dates, other threshold types) are NOT_IMPLEMENTED; keys CGRateS itself ignores in
 * the map (`Weight`, `Balance`) are ignored here too, so its clients' requests keep working.
 */
import { decimalToNano } from '../rating/money.js';
import type { Rule } from '../notifications/rules.js';
import {
  CgrError,
  jsonKind,
  mandatoryMissing,
  notConvertible,
  notImplemented,
  unsupportedFormat,
} from './errors.js';
import { floatToNano, nanoNumber } from './money.js';
import { goDuration, type Obj } from './params.js';
import { GO_ZERO_TIME } from './shapes.js';

/** One trigger as stored (a group's template, or an account's copy). */
export interface StoredTrigger {
  groupId: string;
  uniqueId: string;
  thresholdType: string;
  /** ThresholdValue in nano (money). */
  thresholdNano: number;
  recurrent: boolean;
  minSleepNs: number;
  balanceType: string;
  actionsId: string;
}

/** Balance filter keys CGRateS reads from the map; any set is refused (the rules cannot narrow by them). */
const BALANCE_NARROWING = [
  'BalanceID',
  'BalanceDestinationIds',
  'BalanceWeight',
  'BalanceExpirationDate',
  'BalanceTimingTags',
  'BalanceRatingSubject',
  'BalanceCategories',
  'BalanceSharedGroups',
  'BalanceBlocker',
  'BalanceDisabled',
  'MinQueuedItems',
  'ExpirationDate',
  'ActivationDate',
];

/** Empty as Go would leave the field: absent, null, "", 0, false, [], {} or Go's zero time. */
function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false || v === GO_ZERO_TIME) return true;
  if (Array.isArray(v)) return v.length === 0;
  return jsonKind(v) === 'object' && Object.keys(v as Obj).length === 0;
}

/** utils.IfaceAsFloat64 of a money value, exactly. */
function moneyNano(v: unknown, field: string): number {
  if (typeof v === 'number') return floatToNano(v, field);
  if (typeof v !== 'string') throw notConvertible(`${field} ${jsonKind(v)}`);
  try {
    return decimalToNano(v);
  } catch (err) {
    throw notConvertible(`${field} ${(err as Error).message}`);
  }
}

/** utils.IfaceAsBool: a bool or its text. */
function boolOf(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw notConvertible(`${field} ${JSON.stringify(v)}`);
}

/** utils.IfaceAsDuration: nanoseconds as a number, or a Go duration text. */
function durationNs(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') return goDuration(v, field);
  throw notConvertible(`${field} ${JSON.stringify(v)}`);
}

/**
 * AttrSetActionTrigger.UpdateActionTrigger: the map's keys over `base` (a new trigger when null).
 * Checks the result maps onto a rule; throws a CgrError (nothing is stored) when not.
 */
export function mergeTrigger(
  base: StoredTrigger | null,
  ids: { groupId: string; uniqueId: string },
  map: Obj,
) {
  if (base === null && (map.ThresholdType === undefined || map.ThresholdValue === undefined))
    throw mandatoryMissing(['ThresholdType', 'ThresholdValue'].filter((k) => map[k] === undefined));
  const t: StoredTrigger = base
    ? { ...base }
    : {
        ...ids,
        thresholdType: '',
        thresholdNano: 0,
        recurrent: false,
        minSleepNs: 0,
        balanceType: '',
        actionsId: '',
      };
  if (map.ThresholdType !== undefined) t.thresholdType = String(map.ThresholdType);
  if (map.ThresholdValue !== undefined) t.thresholdNano = moneyNano(map.ThresholdValue, 'ThresholdValue');
  if (map.Recurrent !== undefined) t.recurrent = boolOf(map.Recurrent, 'Recurrent');
  if (map.MinSleep !== undefined) t.minSleepNs = durationNs(map.MinSleep, 'MinSleep');
  if (map.BalanceType !== undefined) t.balanceType = String(map.BalanceType);
  if (map.ActionsID !== undefined) t.actionsId = String(map.ActionsID);
  if (map.Executed !== undefined && boolOf(map.Executed, 'Executed'))
    throw notImplemented('Executed: a trigger set as already executed');
  const narrowing = BALANCE_NARROWING.filter((k) => !isEmpty(map[k]));
  if (narrowing.length) throw notImplemented(`${narrowing.join(', ')} on an action trigger`);
  ruleKindOf(t);
  if (!t.actionsId) throw mandatoryMissing(['ActionsID']);
  return t;
}

/** The rule's kind and amount for a trigger, or NOT_IMPLEMENTED saying what does not map. */
export function ruleKindOf(t: StoredTrigger): Pick<Rule, 'kind' | 'amountNano'> {
  if (t.thresholdType !== '*min_balance') throw notImplemented(`ThresholdType ${t.thresholdType || '""'}`);
  if (t.balanceType === '') throw mandatoryMissing(['BalanceType']);
  if (t.balanceType !== '*monetary')
    throw notImplemented(`*min_balance on ${t.balanceType} balances (only *monetary maps onto a rule)`);
  if (t.thresholdNano < 0) throw notImplemented('a negative ThresholdValue');
  if (t.thresholdNano === 0) return { kind: 'money_exhausted' };
  if (t.thresholdNano + 1 > Number.MAX_SAFE_INTEGER) throw notConvertible('ThresholdValue is too large');
  return { kind: 'money_below', amountNano: BigInt(t.thresholdNano + 1) };
}

/** The rule of a trigger bound to an account; its code names account, group and unique id. */
export function triggerRule(account: string, t: StoredTrigger): Rule {
  return { code: triggerRuleCode(account, t), accountId: account, enabled: true, ...ruleKindOf(t) };
}

export const triggerRuleCode = (account: string, t: Pick<StoredTrigger, 'groupId' | 'uniqueId'>) =>
  `cgr-at:${account}:${t.groupId}:${t.uniqueId}`;

/** A group id or unique id the store can hold (the rule code joins them with ":"). */
export function checkTriggerId(id: string, field: string): void {
  if (id.length > 128 || /[\s{}:]/.test(id)) throw unsupportedFormat(`bad ${field} "${id}"`);
}

/** engine.ActionTrigger as GetActionTriggers answers it; `executed`: fired and not re-armed. */
export function cgrTrigger(t: StoredTrigger, executed = false) {
  return {
    ID: t.groupId,
    UniqueID: t.uniqueId,
    ThresholdType: t.thresholdType,
    ThresholdValue: nanoNumber(t.thresholdNano),
    Recurrent: t.recurrent,
    MinSleep: t.minSleepNs,
    ExpirationDate: GO_ZERO_TIME,
    ActivationDate: GO_ZERO_TIME,
    Balance: {
      Uuid: null,
      ID: null,
      Type: t.balanceType,
      Value: null,
      ExpirationDate: null,
      Weight: null,
      DestinationIDs: null,
      RatingSubject: null,
      Categories: null,
      SharedGroups: null,
      TimingIDs: null,
      Timings: null,
      Disabled: null,
      Factor: null,
      Blocker: null,
    },
    Weight: 0,
    ActionsID: t.actionsId,
    MinQueuedItems: 0,
    Executed: executed,
    LastExecutionTime: GO_ZERO_TIME,
  };
}

/** The AttrSetActionTrigger map, or encoding/json's refusal. */
export function triggerMap(arg: Obj, struct: string): Obj {
  const m = arg.ActionTrigger;
  if (m === undefined || m === null) return {};
  if (jsonKind(m) !== 'object')
    throw new CgrError(
      `json: cannot unmarshal ${jsonKind(m)} into Go struct field ${struct}.ActionTrigger of type map[string]interface {}`,
    );
  return m as Obj;
}

/** PostgreSQL text cannot hold NUL: any string of the argument with one is refused as bad input. */
export function refuseNul(v: unknown, path = 'argument'): void {
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw unsupportedFormat(`${path}: a NUL character`);
  } else if (Array.isArray(v)) v.forEach((x, i) => refuseNul(x, `${path}[${i}]`));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Obj)) refuseNul(x, k);
}

/** Methods whose argument is checked for NUL first (refuseNul). */
export function nulChecked<M extends Record<string, (arg: Obj, c: never) => Promise<unknown>>>(
  methods: M,
): M {
  return Object.fromEntries(
    Object.entries(methods).map(([name, fn]) => [
      name,
      async (arg: Obj, c: never) => {
        refuseNul(arg);
        return fn(arg, c);
      },
    ]),
  ) as M;
}
