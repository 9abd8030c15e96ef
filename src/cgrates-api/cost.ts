/** APIerSv1.GetCost through the rating core's one pricing path (src/rating/price.ts). */
import { priceEvent } from '../rating/price.js';
import { decimalToNano } from '../rating/money.js';
import { RatingErrorCode } from '../rating/errors.js';
import { CgrError, unsupportedFormat } from './errors.js';
import { nanoNumber } from './money.js';
import { goTimeText } from './go-time.js';
import { fields, goDuration, requireFields, type Obj } from './params.js';
import type { CgrContext } from './context.js';

/** CGRateS's AnswerTime: "" or "*now" = now, else RFC 3339 (or unix seconds). */
function answerTimeOf(s: string, now: number): string {
  if (s === '' || s === '*now') return new Date(now).toISOString();
  if (/^\d+$/.test(s)) return new Date(Number(s) * 1000).toISOString();
  return s;
}

/** A refusal of the rating core in CGRateS's words (the same codes: RATING_PLAN_NOT_FOUND, …). */
function ratingError(e: { code: string; message: string }): CgrError {
  if (e.code === RatingErrorCode.INVALID_EVENT) return unsupportedFormat(e.message);
  return new CgrError(e.code);
}

/** CGRateS's ToR and the engine's; voice Usage is a Go duration, the others a whole count. */
const TORS: Record<string, 'voice' | 'data' | 'sms' | 'generic'> = {
  '*voice': 'voice',
  '*data': 'data',
  '*sms': 'sms',
  '*generic': 'generic',
};

/**
 * The event's ToR: AttrGetCost has none (CGRateS rates a duration whatever the Category), so the
 * facade takes an extension CGRateS ignores, `ToR` beside the fields or in `APIOpts`; else voice.
 */
function torOf(arg: Obj): (typeof TORS)[string] {
  const f = fields(arg, 'AttrGetCost');
  const s = f.str('ToR') || fields(f.obj('APIOpts'), 'APIOpts').str('ToR') || '*voice';
  const tor = TORS[s];
  if (!tor) throw unsupportedFormat(`ToR ${s}`);
  return tor;
}

/** Usage in the engine's units: voice seconds (from ns), else bytes / messages / units as given. */
function usageOf(tor: string, s: string): { units: number; wire: number } {
  if (tor === 'voice') {
    const ns = goDuration(s || '0', 'Usage');
    return { units: ns / 1e9, wire: ns };
  }
  if (!/^\d+$/.test(s || '0') || !Number.isSafeInteger(Number(s || '0')))
    throw unsupportedFormat(
      `Usage: a whole number of ${tor === 'data' ? 'bytes' : 'units'} for ${tor}, not "${s}"`,
    );
  const n = Number(s || '0');
  return { units: n, wire: n };
}

export const costMethods = {
  /**
   * The price of a voice, data, SMS or generic event (the ToR extension). Partly CGRateS's
   * EventCost: Cost, Usage (ns for voice, else the count, as CGRateS holds it in a Duration) and
   * StartTime; the rating details (Charges, Rating, Rates) are not yet in its shape.
   */
  async 'APIerSv1.GetCost'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetCost');
    const tenant = c.tenantOf(f.str('Tenant'));
    const subject = f.str('Subject');
    const destination = f.str('Destination');
    const tor = torOf(arg);
    // A data session has no destination; a call and a message do.
    requireFields(arg, tor === 'data' || tor === 'generic' ? ['Subject'] : ['Subject', 'Destination']);
    const answerTime = answerTimeOf(f.str('AnswerTime'), c.now());
    const usage = usageOf(tor, f.str('Usage'));
    const out = priceEvent(c.tariff.current(), {
      tenant,
      category: f.str('Category') || 'call',
      subject,
      destination,
      answerTime,
      usage: usage.units,
      tor,
    });
    if (!out.ok) throw ratingError(out.error);
    return {
      CGRID: '',
      RunID: '',
      StartTime: goTimeText(answerTime), // a time.Time: no ".000Z"
      Usage: usage.wire,
      Cost: nanoNumber(decimalToNano(out.price.cost)),
      Charges: null,
      AccountSummary: null,
      Rating: null,
      Accounting: null,
      RatingFilters: null,
      Rates: null,
      Timings: null,
    };
  },
};
