/**
 * The `rate` command's per-line work, kept free of I/O so tests rate conformance cases through
 * exactly the path the CLI uses: one JSON line in, one JSON object out, never a throw.
 */
import { describeResult, priceEvent, RatingErrorCode, type CompiledTariff } from '../rating/index.js';

export type RateOutput =
  | ({ id: unknown } & ReturnType<typeof describeResult>)
  | { id: unknown; error: { code: string; message: string; field?: string } };

export function rateObject(tariff: CompiledTariff, input: unknown): RateOutput {
  const id = typeof input === 'object' && input !== null ? ((input as { id?: unknown }).id ?? null) : null;
  if (id === null || (typeof id !== 'string' && typeof id !== 'number')) {
    return {
      id,
      error: { code: RatingErrorCode.INVALID_EVENT, message: 'id must be a string or a number', field: 'id' },
    };
  }
  const out = priceEvent(tariff, input);
  return out.ok ? { id, ...out.price } : { id, error: out.error };
}

export function rateLine(tariff: CompiledTariff, line: string): RateOutput {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    return {
      id: null,
      error: { code: RatingErrorCode.INVALID_EVENT, message: 'the line is not valid JSON' },
    };
  }
  return rateObject(tariff, input);
}
