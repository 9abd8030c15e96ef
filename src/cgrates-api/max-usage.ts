/**
 * APIerSv1.GetMaxUsage and GetMaxSessionTime: how much of the usage asked the account's balances
 * pay now, by the one paying rule the sessions grant with (src/rating/affordable.ts over
 * grantSnapshot), priced by the rating core. Reads only.
 */
import { grantSnapshot } from '../charging/session-grants.js';
import { affordableUsage } from '../rating/affordable.js';
import { parseEvent, rateEvent } from '../rating/index.js';
import { dialledNumber } from '../rating/number-format.js';
import { CgrError, unsupportedFormat } from './errors.js';
import { fields, goDuration, requireFields, type Obj } from './params.js';
import { accountOf } from './accounts.js';
import type { CgrContext } from './context.js';

/** CGRateS's default max_call_duration: what is asked when no Usage is given. */
const DEFAULT_USAGE_NS = 3 * 3600e9;
const TORS: Record<string, 'voice' | 'data' | 'sms'> = { '*voice': 'voice', '*data': 'data', '*sms': 'sms' };
/** The rating group the sessions use for each ToR (session-event.ts). */
const GROUPS = { voice: 100, data: 200, sms: 300 } as const;

function timeOf(s: string, nowMs: number): string {
  if (s === '' || s === '*now') return new Date(nowMs).toISOString();
  if (/^\d+$/.test(s)) return new Date(Number(s) * 1000).toISOString();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s))
    throw unsupportedFormat(`AnswerTime ${s}`);
  return s;
}

/** The usage asked: Usage, or TimeEnd - TimeStart (a CallDescriptor), or the default. */
function askedNs(f: ReturnType<typeof fields>, start: string): number {
  if (f.str('Usage')) return goDuration(f.str('Usage'), 'Usage');
  if (f.str('TimeEnd')) return Math.max(0, Date.parse(timeOf(f.str('TimeEnd'), 0)) - Date.parse(start)) * 1e6;
  return DEFAULT_USAGE_NS;
}

async function maxUsage(arg: Obj, c: CgrContext, struct: string): Promise<number> {
  const f = fields(arg, struct);
  const tenant = c.tenantOf(f.str('Tenant'));
  requireFields(arg, ['Account', 'Destination']);
  const tor = TORS[f.str('ToR') || '*voice'];
  if (!tor) throw unsupportedFormat(`ToR ${f.str('ToR')}`);
  if (tor !== 'voice') throw new CgrError('NOT_IMPLEMENTED: GetMaxUsage of data and sms');
  const view = await accountOf(c, tenant, f.str('Account'));
  if (view.account.status !== 'active') return 0;
  const start = timeOf(f.str('AnswerTime') || f.str('TimeStart') || f.str('SetupTime'), c.now());
  const usageNs = askedNs(f, start);
  const tariff = c.tariff.current();
  const ev = parseEvent({
    tenant,
    category: f.str('Category') || 'call',
    subject: f.str('Subject') || view.account.subject,
    destination: dialledNumber(tariff.numbers, tenant, f.str('Destination')),
    answerTime: start,
    usage: Math.ceil(usageNs / 1e9),
    tor,
  });
  if ('ok' in ev) throw unsupportedFormat(ev.message);
  const rated = rateEvent(tariff, ev);
  if (!rated.ok) throw new CgrError(rated.code);
  const snapshot = grantSnapshot(view, { category: ev.category }, GROUPS[tor], c.now(), undefined, new Map());
  const paid = affordableUsage(rated, snapshot); // a postpaid credit line is in the snapshot
  return Math.min(paid.usage, usageNs);
}

export const maxUsageMethods = {
  /** engine.UsageRecord in, nanoseconds out. */
  'APIerSv1.GetMaxUsage': (arg: Obj, c: CgrContext) => maxUsage(arg, c, 'UsageRecord'),
  /** The same on a CallDescriptor's fields (TimeStart, TimeEnd). */
  'APIerSv1.GetMaxSessionTime': (arg: Obj, c: CgrContext) => maxUsage(arg, c, 'CallDescriptor'),
};
