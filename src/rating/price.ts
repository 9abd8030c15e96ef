/**
 * Pricing an untrusted event end to end: parse, rate, describe. One path for the price enquiry
 * (HTTP) and the `rate` command, so both answer the same input with the same price or error.
 */
import { describeResult } from './breakdown.js';
import type { CompiledTariff } from './compile.js';
import type { RatingError } from './errors.js';
import { parseEvent } from './event.js';
import { dialledNumber } from './number-format.js';
import { rateEvent } from './rate.js';

export type PriceOutput =
  | { ok: true; price: ReturnType<typeof describeResult> }
  | { ok: false; error: { code: string; message: string; field?: string } };

function failure(e: RatingError): PriceOutput {
  const error =
    e.field === undefined
      ? { code: e.code, message: e.message }
      : { code: e.code, message: e.message, field: e.field };
  return { ok: false, error };
}

/** The price of an event given as plain data (a JSON body or line), or why it has none. */
export function priceEvent(tariff: CompiledTariff, input: unknown): PriceOutput {
  const event = parseEvent(input);
  if ('ok' in event) return failure(event);
  // The number as the charging API rates it (URI stripped, the tenant's number rules applied).
  event.destination = dialledNumber(tariff.numbers, event.tenant, event.destination);
  const result = rateEvent(tariff, event);
  if (!result.ok) return failure(result);
  return { ok: true, price: describeResult(result) };
}
