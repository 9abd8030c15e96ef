/**
 * The `rate` command's per-line work, kept free of I/O so tests rate conformance cases through
 * exactly the path the CLI uses: one JSON line in, one JSON object out, never a throw.
 */
import {
  describeResult,
  parseEvent,
  rateEvent,
  RatingErrorCode,
  type CompiledTariff,
  type RatingError,
} from '../rating/index.js';

export type RateOutput =
  | ({ id: unknown } & ReturnType<typeof describeResult>)
  | { id: unknown; error: { code: string; message: string; field?: string } };

function failure(id: unknown, e: RatingError): RateOutput {
  const error =
    e.field === undefined
      ? { code: e.code, message: e.message }
      : { code: e.code, message: e.message, field: e.field };
  return { id, error };
}

export function rateObject(tariff: CompiledTariff, input: unknown): RateOutput {
  const id = typeof input === 'object' && input !== null ? ((input as { id?: unknown }).id ?? null) : null;
  if (id === null || (typeof id !== 'string' && typeof id !== 'number')) {
    return failure(id, {
      ok: false,
      code: RatingErrorCode.INVALID_EVENT,
      message: 'id must be a string or a number',
      field: 'id',
    });
  }
  const event = parseEvent(input);
  if ('ok' in event) return failure(id, event);
  const result = rateEvent(tariff, event);
  if (!result.ok) return failure(id, result);
  return { id, ...describeResult(result) };
}

export function rateLine(tariff: CompiledTariff, line: string): RateOutput {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    return failure(null, {
      ok: false,
      code: RatingErrorCode.INVALID_EVENT,
      message: 'the line is not valid JSON',
    });
  }
  return rateObject(tariff, input);
}
