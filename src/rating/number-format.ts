/**
 * Numbers as the network sends them, turned into the number rating matches prefixes against: the
 * URI scheme and parameters go (`tel:+44…;phone-context=…`, `sip:+44…@host;user=phone`), then the
 * tenant's ordered rules (regex → replacement, like CGRateS number-format attributes) apply, each to
 * the result of the one before. Without rules a number is rated as dialled: a national `07700900123`
 * matches a national prefix `07`. Pure: the charging API, the price enquiry, CDR files and the CLI
 * all call `dialledNumber`, so they agree.
 */
import { ANY, type NumberRule } from './model.js';

export type { NumberRule } from './model.js';

/** Rules per tenant; `*any` holds the rules of tenants without their own list. */
export type NumberRules = Readonly<Record<string, readonly NumberRule[]>>;

export interface CompiledRule {
  id: string;
  re: RegExp;
  replace: string;
}

export type CompiledNumberRules = ReadonlyMap<string, readonly CompiledRule[]>;

export const MAX_RULES_PER_TENANT = 32;
export const MAX_PATTERN_CHARS = 100;
export const MAX_REPLACEMENT_CHARS = 64;
/**
 * The most ways a pattern may try to split one number: the product of the counts each quantifier
 * can take (2 for `?`, m-n+1 for `{n,m}`, 257 for `*`, `+`, `{n,}` on a number of up to 256
 * characters): two unbounded quantifiers and two `?`, about 2 ms on 256 digits at worst, measured.
 */
export const MAX_BACKTRACKING_WAYS = 257 * 257 * 2 * 2;

const WRAPPED = /[:;@?\s]/;

/** The number without URI scheme, host and parameters: `tel:`, `sip:`, `sips:` (any case). */
export function stripUri(raw: string): string {
  if (!WRAPPED.test(raw)) return raw; // the usual bare number: CDR workers call this on every line
  const bare = raw.trim().replace(/^(tel|sips?):/i, '');
  const end = bare.search(/[;@?]/);
  return end < 0 ? bare : bare.slice(0, end);
}

/**
 * Longer numbers skip the rules: the HTTP schemas and CDR fields stop at 256 characters anyway, but
 * the CLI reads lines of any length, on which even a checked pattern could take quadratic time.
 */
export const MAX_NUMBER_CHARS = 256;

/** The number rating sees: the URI stripped, then the tenant's rules (or `*any`'s) in order. */
export function dialledNumber(rules: CompiledNumberRules, tenant: string, raw: string): string {
  let number = stripUri(raw);
  if (rules.size === 0) return number;
  for (const r of rules.get(tenant) ?? rules.get(ANY) ?? []) {
    // Also after a rule: a replacement holding `$&` twice could double the number at each rule.
    if (number.length > MAX_NUMBER_CHARS) break;
    number = number.replace(r.re, r.replace);
  }
  return number;
}

export function compileNumberRules(rules: NumberRules | undefined): CompiledNumberRules {
  const out = new Map<string, CompiledRule[]>();
  for (const [tenant, list] of Object.entries(rules ?? {})) {
    out.set(
      tenant,
      list.map((r) => ({ id: r.id, re: new RegExp(r.match), replace: r.replace })),
    );
  }
  return out;
}

/**
 * Why a pattern may not be used, or undefined. Rules run on every charging request, so a pattern
 * must not backtrack catastrophically: anchored at the start, short, no repeated group that holds a
 * quantifier or an alternation (`(\d+)*`, `(a|a)*`), no backreference, and few ways to split a
 * number (`MAX_BACKTRACKING_WAYS`): then a number of up to 256 characters costs a few ms at worst.
 */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_CHARS)
    return `match must be 1 to ${MAX_PATTERN_CHARS} characters`;
  if (!pattern.startsWith('^')) return 'match must be anchored at the start (^)';
  try {
    new RegExp(pattern);
  } catch (e) {
    return `match is not a valid regular expression: ${(e as Error).message}`;
  }
  return shapeProblem(pattern);
}

interface Group {
  /** Holds a quantifier or an alternation: repeating it could backtrack exponentially. */
  varies: boolean;
}

/** Walks the pattern's tokens: escapes, classes, groups, and the quantifiers after them. */
function shapeProblem(p: string): string | undefined {
  const open: Group[] = [];
  let last: Group | undefined; // the group just closed, if the previous token closed one
  let ways = 1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const q = quantifierAt(p, i);
    if (q) {
      if (last?.varies) return 'match repeats a group that itself varies (nested quantifier or alternation)';
      ways *= q.ways;
      for (const g of open) g.varies = true;
      i += q.length - 1;
      last = undefined;
      continue;
    }
    last = undefined;
    if (c === '\\') {
      if (/[1-9k]/.test(p[i + 1] ?? '')) return 'match may not use backreferences';
      i++;
    } else if (c === '[') {
      i = classEnd(p, i);
    } else if (c === '(') {
      open.push({ varies: false });
      i = groupMarkerEnd(p, i);
    } else if (c === '|') {
      // `^a|b` anchors only its first branch; the others would be tried at every position.
      if (open.length === 0) return 'match may alternate only inside a group: ^(?:a|b), not ^a|b';
      for (const g of open) g.varies = true;
    } else if (c === ')') {
      last = open.pop();
    }
  }
  if (ways > MAX_BACKTRACKING_WAYS)
    return 'match has too many quantifiers that vary (at most two of *, +, {n,} and two ?, or the like)';
  return undefined;
}

/** The quantifier starting at `i` (with its lazy `?`) and how many counts it may take, or undefined. */
function quantifierAt(p: string, i: number): { length: number; ways: number } | undefined {
  const c = p[i]!;
  const lazy = (n: number) => (p[i + n] === '?' ? n + 1 : n);
  const unbounded = MAX_NUMBER_CHARS + 1;
  if (c === '*' || c === '+') return { length: lazy(1), ways: unbounded };
  if (c === '?') return { length: lazy(1), ways: 2 };
  const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { length: lazy(m[0].length), ways: Math.min(max - min + 1, unbounded) };
}

/** The last index of a group's opening (`(`, `(?:`, `(?=`, `(?<!`, `(?<name>`), so its `?` is no quantifier. */
function groupMarkerEnd(p: string, i: number): number {
  if (p[i + 1] !== '?') return i;
  if (p[i + 2] === '<' && p[i + 3] !== '=' && p[i + 3] !== '!') return p.indexOf('>', i);
  return p[i + 2] === '<' ? i + 3 : i + 2;
}

/** The index of the `]` closing the class opened at `i`. */
function classEnd(p: string, i: number): number {
  let j = i + 1;
  if (p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length && p[j] !== ']'; j++) if (p[j] === '\\') j++;
  return j;
}

/** Every problem of one tenant's rules, each naming the rule. */
export function numberRuleProblems(tenant: string, rules: unknown): { path: string; message: string }[] {
  const base = `/numbers/${tenant}`;
  if (!Array.isArray(rules)) return [{ path: base, message: 'must be a list of rules' }];
  if (rules.length > MAX_RULES_PER_TENANT)
    return [{ path: base, message: `at most ${MAX_RULES_PER_TENANT} rules per tenant` }];
  const problems: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  rules.forEach((r: unknown, i) => {
    const at = (message: string) => problems.push({ path: `${base}/${i}`, message });
    const problem = ruleProblem(r, seen);
    if (problem) at(problem);
  });
  return problems;
}

function ruleProblem(r: unknown, seen: Set<string>): string | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'a rule must be an object';
  const { id, match, replace, ...rest } = r as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) return `unknown field "${extra}"`;
  if (typeof id !== 'string' || id === '' || id.length > 64)
    return 'id must be a string of 1 to 64 characters';
  const named = `rule ${id}: `;
  if (seen.has(id)) return `${named}id is used twice`;
  seen.add(id);
  if (typeof match !== 'string') return `${named}match must be a string`;
  const bad = patternProblem(match);
  if (bad) return named + bad;
  if (typeof replace !== 'string' || replace.length > MAX_REPLACEMENT_CHARS)
    return `${named}replace must be a string of at most ${MAX_REPLACEMENT_CHARS} characters`;
  return undefined;
}
