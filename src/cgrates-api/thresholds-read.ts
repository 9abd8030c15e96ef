/**
 * A CGRateS v0.10 threshold profile (engine.ThresholdProfile) read as far as it maps onto one money
 * notification rule: pure. CGRateS's AccountS sends ThresholdS a `BalanceUpdate` event on each
 * balance change (`Account`, `BalanceID`, `Units`); a low-balance profile filters it inline:
 *
 *   "FilterIDs": ["*string:~*req.Account:1001", "*lt:~*req.Units:10"]
 *
 * `*lt` Units X is `money_below` X; `*lte` X is `money_below` X + 1 nano, and `*lte` 0 is
 * `money_exhausted`; an Account filter narrows the rule to that account (none: every account of the
 * tenant). `~Account` (v0.10's early path) reads as `~*req.Account`. Anything else — stored filter
 * ids, other paths or types, several values, Blocker, MinHits > 1, MaxHits > 1, an activation
 * interval, exporters — is NOT_IMPLEMENTED, never ignored.
 */
import { decimalToNano } from '../rating/money.js';
import type { Rule } from '../notifications/rules.js';
import {
  jsonKind,
  mandatoryMissing,
  notConvertible,
  notImplemented,
  unmarshalError,
  unsupportedFormat,
} from './errors.js';
import { fields, type Obj } from './params.js';

/** The profile as stored and answered (engine.ThresholdProfile). */
export interface StoredThreshold {
  Tenant: string;
  ID: string;
  FilterIDs: string[];
  ActivationInterval: null;
  MaxHits: number;
  MinHits: number;
  MinSleep: number;
  Blocker: boolean;
  Weight: number;
  ActionIDs: string[];
  Async: boolean;
}

const STRUCT = 'ThresholdWithCache';
export const thresholdRuleCode = (id: string) => `cgr-th:${id}`;

interface Read {
  accountId: string | null;
  kind?: Pick<Rule, 'kind' | 'amountNano'>;
}

/** One inline filter `*type:~path:values` into `read`. */
function readFilter(f: string, read: Read): void {
  const m = /^(\*[a-z_]+):~(?:\*req\.)?([A-Za-z]+):(.*)$/.exec(f);
  if (!m)
    throw notImplemented(`filter "${f}": only inline filters (stored filters, SetFilter, are not offered)`);
  const [, type, path, values] = m as unknown as [string, string, string, string];
  if (/[;|]/.test(values)) throw notImplemented(`filter "${f}": several values`);
  if (type === '*string' && path === 'Account') read.accountId = values;
  else if (type === '*string' && path === 'EventType' && values === 'BalanceUpdate') return;
  else if (type === '*string' && path === 'BalanceType' && values === '*monetary') return;
  else if ((type === '*lt' || type === '*lte') && path === 'Units') read.kind = unitsKind(type, values, f);
  else throw notImplemented(`filter "${f}"`);
}

function unitsKind(type: string, value: string, f: string): Pick<Rule, 'kind' | 'amountNano'> {
  let nano: number;
  try {
    nano = decimalToNano(value);
  } catch (err) {
    throw notConvertible(`filter "${f}": ${(err as Error).message}`);
  }
  if (type === '*lte' && nano === 0) return { kind: 'money_exhausted' };
  if (nano <= 0) throw notImplemented(`filter "${f}": a threshold at or below 0`);
  return { kind: 'money_below', amountNano: BigInt(type === '*lte' ? nano + 1 : nano) };
}

/** An int field that must be one of `ok`. */
function oneOf(f: ReturnType<typeof fields>, name: string, ok: number[]): number {
  const n = f.int(name);
  if (!ok.includes(n)) throw notImplemented(`${name} ${n} (once per crossing is offered: ${ok.join(', ')})`);
  return n;
}

/** The profile and its rule; throws (nothing stored) when it does not map. */
export function readThreshold(arg: Obj, tenant: string): { profile: StoredThreshold; rule: Rule } {
  const f = fields(arg, STRUCT);
  const id = f.str('ID');
  if (!id) throw mandatoryMissing(['ID']);
  if (id.length > 128 || /[\s{}]/.test(id)) throw unsupportedFormat(`bad threshold id "${id}"`);
  const ai = arg.ActivationInterval;
  if (ai !== undefined && ai !== null) throw notImplemented('ActivationInterval');
  if (f.bool('Blocker')) throw notImplemented('Blocker');
  if (f.strings('EeIDs').length) throw notImplemented('EeIDs');
  const minSleep = arg.MinSleep ?? 0;
  if (typeof minSleep !== 'number' || !Number.isSafeInteger(minSleep) || minSleep < 0)
    throw unmarshalError(jsonKind(minSleep), STRUCT, 'MinSleep', 'time.Duration');
  const read: Read = { accountId: null };
  const filters = f.strings('FilterIDs');
  for (const x of filters) readFilter(x, read);
  if (!read.kind)
    throw notImplemented('a profile without a *lt or *lte filter on ~*req.Units (no low-balance rule)');
  const profile: StoredThreshold = {
    Tenant: tenant,
    ID: id,
    FilterIDs: filters,
    ActivationInterval: null,
    MaxHits: oneOf(f, 'MaxHits', [-1, 0, 1]),
    MinHits: oneOf(f, 'MinHits', [0, 1]),
    MinSleep: minSleep,
    Blocker: false,
    Weight: f.num('Weight'),
    ActionIDs: f.strings('ActionIDs'),
    Async: f.bool('Async'),
  };
  const rule: Rule = { code: thresholdRuleCode(id), accountId: read.accountId, enabled: true, ...read.kind };
  return { profile, rule };
}
