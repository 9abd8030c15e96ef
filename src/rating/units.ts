/**
 * Units of usage. Inside the core every quantity is an integer of **base units**: one nanosecond
 * of time, one byte of data, one message, one generic unit (the CGRateS convention, so a CGRateS
 * tariff's "60s" and "1024" mean what they meant there). Events carry seconds for voice; this
 * module converts at the edge.
 */
import type { Tor } from './model.js';

export const NANOS_PER_SECOND = 1_000_000_000;

/** Guard rails: no single event may ask to rate more than this (CGRateS max_computed_usage). */
export const MAX_USAGE: Readonly<Record<Tor, number>> = {
  voice: 72 * 3600, // seconds
  data: 1024 ** 4, // bytes (1 TiB)
  sms: 100_000, // messages
  generic: 1e12,
};

const TOR_ALIASES: Readonly<Record<string, Tor>> = {
  voice: 'voice',
  '*voice': 'voice',
  data: 'data',
  '*data': 'data',
  sms: 'sms',
  '*sms': 'sms',
  generic: 'generic',
  '*generic': 'generic',
};

export function parseTor(s: unknown): Tor | undefined {
  return typeof s === 'string' ? TOR_ALIASES[s] : undefined;
}

/** Converts event usage (seconds for voice, bytes / messages / units otherwise) to base units. */
export function usageToBase(tor: Tor, usage: number): number {
  if (tor !== 'voice') return usage;
  // Voice may carry fractions of a second; keep them to the nanosecond without float drift.
  return Number.isInteger(usage) ? usage * NANOS_PER_SECOND : Math.round(usage * NANOS_PER_SECOND);
}

/** The whole units of usage (seconds for voice) a quantity of base units pays for: rounded down. */
export function wholeUsage(tor: Tor, base: number): number {
  return tor === 'voice' ? Math.floor(base / NANOS_PER_SECOND) : base;
}

/** Converts base units back to the event's unit, for breakdowns (not money: floats are fine). */
export function baseToUsage(tor: Tor, base: number): number {
  return tor === 'voice' ? base / NANOS_PER_SECOND : base;
}
