/**
 * The rating core: a pure function from (tariff, event) to a price and its breakdown.
 * No I/O, no clock, no environment: CDR workers, the charging API and the CLI all import this.
 */
export { compileTariff, type CompiledTariff } from './compile.js';
export { rateEvent, type RatingResult, type RatedSpan } from './rate.js';
export type { Resolution } from './resolve.js';
export { parseEvent, parseIsoTime, type RatingEvent } from './event.js';
export { compactBreakdown, compactBreakdownJson, describeResult, type Breakdown } from './breakdown.js';
export { RatingErrorCode, type RatingError } from './errors.js';
export { priceEvent, type PriceOutput } from './price.js';
export { roundRational } from './rounding.js';
export * from './model.js';
export * from './money.js';
export * from './units.js';
