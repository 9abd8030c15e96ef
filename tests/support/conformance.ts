/**
 * Reads the conformance cases (tests/fixtures/conformance-cases.json, copied from CGRateS-derived
 * cases) and turns a case's neutral tariff into our `TariffPlan` and its event into CLI input.
 */
import { readFileSync } from 'node:fs';
import type { TariffPlan } from '../../src/rating/model.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type ConformanceCase = any;

export function loadConformanceCases(): ConformanceCase[] {
  const url = new URL('../fixtures/conformance-cases.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).cases;
}

/** Base units per case unit: CGRateS counts time in nanoseconds, data and SMS in units. */
export function baseFactor(unit: string): number {
  if (unit === 'second') return 1e9;
  if (unit === 'unit') return 1;
  throw new Error(`unknown case unit ${unit}`);
}

export function caseToTariffPlan(tariff: any, unit: string): TariffPlan {
  const f = baseFactor(unit);
  return {
    timezone: 'UTC',
    destinations: tariff.destinations.map((d: any) => ({ id: d.id, prefixes: d.prefixes })),
    timings: tariff.timings.map((t: any) => ({
      id: t.id,
      years: t.years,
      months: t.months,
      monthDays: t.month_days,
      weekDays: t.week_days,
      startTime: t.start_time,
    })),
    rates: tariff.rates.map((r: any) => ({
      id: r.id,
      slots: r.slots.map((s: any) => ({
        connectFee: s.connect_fee,
        rate: s.rate,
        rateUnit: s.rate_unit * f,
        rateIncrement: s.rate_increment * f,
        groupIntervalStart: s.group_interval_start * f,
      })),
    })),
    destinationRates: tariff.destination_rates.map((dr: any) => ({
      id: dr.id,
      bindings: dr.bindings.map((b: any) => ({
        destination: b.destination,
        rate: b.rate,
        roundingMethod: b.rounding_method,
        roundingDecimals: b.rounding_decimals,
        maxCost: b.max_cost,
        maxCostStrategy: b.max_cost_strategy ?? null,
      })),
    })),
    ratingPlans: tariff.rating_plans.map((p: any) => ({
      id: p.id,
      bindings: p.bindings.map((b: any) => ({
        destinationRate: b.destination_rate,
        timing: b.timing,
        weight: b.weight,
      })),
    })),
    ratingProfiles: tariff.rating_profiles.map((p: any) => ({
      tenant: p.tenant,
      category: p.category,
      subject: p.subject,
      activations: p.activations.map((a: any) => ({
        activationTime: a.activation_time,
        ratingPlan: a.rating_plan,
        fallbackSubjects: a.fallback_subjects ?? [],
      })),
    })),
  };
}

/** The case's event as a CLI input line (usage stays in the case unit: seconds for voice). */
export function caseEventLine(c: ConformanceCase): Record<string, unknown> {
  const e = c.event;
  return {
    id: c.id,
    tenant: e.tenant,
    category: e.category,
    subject: e.subject,
    destination: e.destination,
    answerTime: e.answer_time,
    usage: e.usage,
    tor: e.tor,
  };
}

/** Compares two decimal strings as decimals ("0.30" equals "0.3"). */
export function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => {
    let [i, f = ''] = s.split('.');
    f = f.replace(/0+$/, '');
    i = i!.replace(/^(-?)0+(?=\d)/, '$1');
    return f ? `${i}.${f}` : i === '-0' ? '0' : i;
  };
  return norm(a) === norm(b);
}
