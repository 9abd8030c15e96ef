/**
 * Reading a method's argument as Go's encoding/json would fill its struct: a field of the wrong
 * JSON type is refused with encoding/json's message; absent fields are Go zero values.
 */
import { jsonKind, mandatoryMissing, notImplemented, unmarshalError, unsupportedFormat } from './errors.js';
import { parseDuration } from '../tariffs/quantities.js';

export type Obj = Record<string, unknown>;

/** A typed view of one argument object; `struct` names the Go type in error messages. */
export function fields(arg: Obj, struct: string) {
  const typed = <T>(name: string, kind: string, goType: string, zero: T): T => {
    const v = arg[name];
    if (v === undefined || v === null) return zero;
    if (jsonKind(v) !== kind) throw unmarshalError(jsonKind(v), struct, name, goType);
    return v as T;
  };
  return {
    str: (name: string) => typed(name, 'string', 'string', ''),
    num: (name: string) => typed(name, 'number', 'float64', 0),
    int: (name: string) => {
      const n = typed(name, 'number', 'int', 0);
      if (!Number.isSafeInteger(n)) throw unmarshalError(`number ${n}`, struct, name, 'int');
      return n;
    },
    bool: (name: string) => typed(name, 'boolean', 'bool', false),
    obj: (name: string) => typed<Obj>(name, 'object', 'map[string]interface {}', {}),
    strings: (name: string) => {
      const list = typed<unknown[]>(name, 'array', '[]string', []);
      for (const s of list)
        if (typeof s !== 'string') throw unmarshalError(jsonKind(s), struct, name, 'string');
      return list as string[];
    },
  };
}

/** utils.MissingStructFields: the mandatory fields left empty, in the order asked. */
export function requireFields(arg: Obj, names: string[]): void {
  const missing = names.filter((n) => arg[n] === undefined || arg[n] === null || arg[n] === '');
  if (missing.length) throw mandatoryMissing(missing);
}

/**
 * The prologue of every per-account method: the struct's fields, the tenant (the key's, or the one
 * named if the key may use it) and the mandatory Account.
 */
export function tenantAccount(arg: Obj, struct: string, c: { tenantOf(named: string): string }) {
  const f = fields(arg, struct);
  const tenant = c.tenantOf(f.str('Tenant'));
  requireFields(arg, ['Account']);
  return { f, tenant, account: f.str('Account') };
}

/**
 * Go's time.ParseDuration in integer nanoseconds ("1h30m", "90s", "1.5s"); a bare integer is
 * nanoseconds, as utils.ParseDurationWithNanosecs reads it.
 */
export function goDuration(s: string, field: string): number {
  const ns = /^\d+$/.test(s) ? Number(s) : parseDuration(s);
  if (ns === undefined || !Number.isSafeInteger(ns))
    throw unsupportedFormat(`${field}: time: invalid duration "${s}"`);
  return ns;
}

/**
 * A balance's ExpiryTime as CGRateS reads it (utils.ParseTimeDetectLayout): "" or "*unlimited" =
 * never, "+720h" = from now, else an RFC 3339 time or unix seconds. Null = never expires.
 */
export function expiryOf(s: string, nowMs: number): number | null {
  if (s === '' || s === '*unlimited') return null;
  if (s.startsWith('+')) return nowMs + Math.floor(goDuration(s.slice(1), 'ExpiryTime') / 1e6);
  if (s === '*now') return nowMs;
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  // RFC 3339 only: Date.parse would take many more shapes, each read its own way.
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(ms)) throw unsupportedFormat(`ExpiryTime: ${s}`);
  return ms;
}

/** CGRateS's ";"-separated id lists (DestinationIDs, Categories); "!" exclusions are not supported. */
export function idList(s: string, field: string): string[] {
  const ids = s.split(';').filter((x) => x !== '' && x !== '*any');
  if (ids.some((x) => x.startsWith('!'))) throw notImplemented(`${field}: exclusions (!id)`);
  return ids;
}

/**
 * PostgreSQL text holds no NUL: a string (or key) of an argument with one names nothing the engine
 * keeps, and would reach a query as a driver error (SERVER_ERROR). Every method's argument is
 * refused with it before the method runs (dispatch.ts), so no method needs its own check.
 */
export function refuseNul(arg: unknown): void {
  // A stack, not recursion: a deeply nested argument must not overflow the call stack.
  const todo: [unknown, string][] = [[arg, 'argument']];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [v, path] = next;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) throw unsupportedFormat(`${path}: a NUL character`);
    } else if (Array.isArray(v)) v.forEach((x, i) => todo.push([x, `${path}[${i}]`]));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v as Obj)) {
        if (k.includes('\u0000')) throw unsupportedFormat(`${path}: a key with a NUL character`);
        todo.push([x, `${path}.${k}`]);
      }
  }
}
