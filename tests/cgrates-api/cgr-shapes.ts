/**
 * CGRateS's reply shapes as Go marshals them (field names from its sources, cited per shape), and a
 * small checker: every field present with its JSON kind, no field CGRateS does not send (tests only).
 *
 * A spec is a kind ('string' | 'number' | 'boolean' | 'null' | 'any', or several joined by '|'),
 * an object spec (exactly these keys; a key ending in '?' may be absent, as Go's `omitempty` leaves
 * it out), `[spec]` (an array of spec), or `{ '*': spec }` (a map, null when Go's is nil).
 */
export type Spec = string | Spec[] | { [key: string]: Spec };

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function check(value: unknown, spec: Spec, path: string, out: string[]): void {
  if (typeof spec === 'string') {
    const kinds = spec.split('|');
    if (!kinds.includes('any') && !kinds.includes(kindOf(value)))
      out.push(`${path}: ${kindOf(value)} not ${spec}`);
    return;
  }
  if (Array.isArray(spec)) {
    if (!Array.isArray(value)) return void out.push(`${path}: ${kindOf(value)} not array`);
    value.forEach((v, i) => check(v, spec[0]!, `${path}[${i}]`, out));
    return;
  }
  if (value === null && '*' in spec) return; // a Go map may be nil: null
  if (kindOf(value) !== 'object') return void out.push(`${path}: ${kindOf(value)} not object`);
  const obj = value as Record<string, unknown>;
  if ('*' in spec) {
    for (const [k, v] of Object.entries(obj)) check(v, spec['*']!, `${path}.${k}`, out);
    return;
  }
  const keys = new Map(
    Object.entries(spec).map(([k, s]) => [k.replace(/\?$/, ''), { s, optional: k.endsWith('?') }]),
  );
  for (const k of Object.keys(obj)) if (!keys.has(k)) out.push(`${path}.${k}: not in CGRateS's shape`);
  for (const [k, { s, optional }] of keys) {
    if (k in obj) check(obj[k], s, `${path}.${k}`, out);
    else if (!optional) out.push(`${path}.${k}: missing`);
  }
}

/** The mismatches of a value against a spec ([] when it fits). */
export function shapeErrors(value: unknown, spec: Spec): string[] {
  const out: string[] = [];
  check(value, spec, '$', out);
  return out;
}

const SET: Spec = { '*': 'boolean' };

/** engine.Balance (engine/balances.go). */
export const BALANCE: Spec = {
  Uuid: 'string',
  ID: 'string',
  Value: 'number',
  ExpirationDate: 'string',
  Weight: 'number',
  DestinationIDs: SET,
  RatingSubject: 'string',
  Categories: SET,
  SharedGroups: SET,
  Timings: 'null|array',
  TimingIDs: SET,
  Disabled: 'boolean',
  Factor: 'null|object',
  Blocker: 'boolean',
};

/** engine.Account (engine/account.go). */
export const ACCOUNT: Spec = {
  ID: 'string',
  BalanceMap: { '*': [BALANCE] },
  UnitCounters: 'null|object',
  ActionTriggers: 'null|array',
  AllowNegative: 'boolean',
  Disabled: 'boolean',
  UpdateTime: 'string',
};

/** engine.ExternalCDR (engine/cdr.go). */
export const EXTERNAL_CDR: Spec = {
  CGRID: 'string',
  RunID: 'string',
  // Not sent by the engine (it has no StorDB row order): docs/CGRATES-COMPAT.md.
  'OrderID?': 'number',
  OriginHost: 'string',
  Source: 'string',
  OriginID: 'string',
  ToR: 'string',
  RequestType: 'string',
  Tenant: 'string',
  Category: 'string',
  Account: 'string',
  Subject: 'string',
  Destination: 'string',
  SetupTime: 'string',
  AnswerTime: 'string',
  Usage: 'string',
  ExtraFields: { '*': 'string' },
  CostSource: 'string',
  Cost: 'number',
  CostDetails: 'string|null|object',
  ExtraInfo: 'string',
  PreRated: 'boolean',
};

/** engine.Action inside GetActions' map (engine/action.go). */
export const ACTIONS_MAP: Spec = { '*': ['object'] };

/** sessions.ExternalSession (sessions/session.go). */
export const EXTERNAL_SESSION: Spec = {
  CGRID: 'string',
  RunID: 'string',
  ToR: 'string',
  OriginID: 'string',
  OriginHost: 'string',
  Source: 'string',
  RequestType: 'string',
  Tenant: 'string',
  Category: 'string',
  Account: 'string',
  Subject: 'string',
  Destination: 'string',
  SetupTime: 'string',
  AnswerTime: 'string',
  Usage: 'number',
  ExtraFields: { '*': 'string' },
  NodeID: 'string',
  LoopIndex: 'number',
  DurationIndex: 'number',
  MaxRate: 'number',
  MaxRateUnit: 'number',
  MaxCostSoFar: 'number',
  DebitInterval: 'number',
  NextAutoDebit: 'string',
};

/** sessions.V1AuthorizeReply / V1InitSessionReply / V1UpdateSessionReply (sessions/sessions.go): all omitempty. */
export const SESSION_REPLY: Spec = {
  MaxUsage: 'number',
  'Attributes?': 'null|object',
  'ResourceAllocation?': 'null|string',
  'ThresholdIDs?': 'null|array',
  'StatQueueIDs?': 'null|array',
  'RouteProfiles?': 'null|array',
};
