/**
 * utils.SessionFilter {Limit, Filters, Tenant, APIOpts} as SessionSv1.GetActiveSessions and
 * ForceDisconnect take it. Filters are CGRateS inline filter rules `*type:~*req.Field:v1;v2`
 * (the v0.9 path `~Field` too), matched against the session's fields; all must pass. Only the rule
 * types below are held: another (or a filter profile's ID) is NOT_IMPLEMENTED, never ignored (a
 * ForceDisconnect that ignored a rule would end calls it was not asked to). Pure.
 */
import { notImplemented, unsupportedFormat } from './errors.js';
import { fields, type Obj } from './params.js';

type Test = (value: string | undefined, wanted: string[]) => boolean;

const some =
  (f: (v: string, w: string) => boolean): Test =>
  (v, ws) =>
    v !== undefined && ws.some((w) => f(v, w));

const RULES: Record<string, Test> = {
  '*string': some((v, w) => v === w),
  '*prefix': some((v, w) => v.startsWith(w)),
  '*suffix': some((v, w) => v.endsWith(w)),
  '*exists': (v) => v !== undefined && v !== '',
  '*notstring': (v, ws) => !RULES['*string']!(v, ws),
  '*notprefix': (v, ws) => !RULES['*prefix']!(v, ws),
  '*notsuffix': (v, ws) => !RULES['*suffix']!(v, ws),
  '*notexists': (v) => v === undefined || v === '',
};

export interface SessionRule {
  field: string;
  test: Test;
  values: string[];
}

export interface SessionFilter {
  tenant: string;
  /** 0: no limit. */
  limit: number;
  rules: SessionRule[];
}

/** One inline rule: `*string:~*req.Account:1001;1002`. */
function ruleOf(text: string): SessionRule {
  const m = /^(\*[a-z]+):~(?:\*req\.)?([A-Za-z0-9_]+)(?::(.*))?$/.exec(text);
  if (!m) {
    if (!text.startsWith('*')) throw notImplemented(`filter profiles (${text}); give inline rules`);
    throw unsupportedFormat(`Filters: ${text}`);
  }
  const [, type, field, values = ''] = m;
  const test = RULES[type!];
  if (!test) throw notImplemented(`filter type ${type}`);
  const needsValues = type !== '*exists' && type !== '*notexists';
  if (needsValues && values === '') throw unsupportedFormat(`Filters: ${text}`);
  return { field: field!, test, values: values.split(';') };
}

export function readSessionFilter(arg: Obj): SessionFilter {
  const f = fields(arg, 'SessionFilter');
  const limit = f.int('Limit');
  return { tenant: f.str('Tenant'), limit: Math.max(limit, 0), rules: f.strings('Filters').map(ruleOf) };
}

/** Whether a session's fields pass every rule. */
export function passes(rules: SessionRule[], fieldsOf: Record<string, unknown>): boolean {
  return rules.every((r) => {
    const v = fieldsOf[r.field];
    return r.test(v === undefined || v === null ? undefined : String(v), r.values);
  });
}
