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

export const costMethods = {
  /**
   * The price of a voice event. Partly CGRateS's EventCost: Cost, Usage (ns) and StartTime; the
   * rating details (Charges, Rating, Rates) are not yet in its shape.
   */
  async 'APIerSv1.GetCost'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrGetCost');
    const tenant = c.tenantOf(f.str('Tenant'));
    const subject = f.str('Subject');
    const destination = f.str('Destination');
    requireFields(arg, ['Subject', 'Destination']);
    const answerTime = answerTimeOf(f.str('AnswerTime'), c.now());
    const usageNs = goDuration(f.str('Usage') || '0', 'Usage');
    const out = priceEvent(c.tariff.current(), {
      tenant,
      category: f.str('Category') || 'call',
      subject,
      destination,
      answerTime,
      usage: usageNs / 1e9,
      tor: 'voice',
    });
    if (!out.ok) throw ratingError(out.error);
    return {
      CGRID: '',
      RunID: '',
      StartTime: goTimeText(answerTime), // a time.Time: no ".000Z"
      Usage: usageNs,
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
