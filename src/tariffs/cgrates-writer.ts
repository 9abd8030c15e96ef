/**
 * Writes a `TariffPlan` as a CGRateS tariff-plan CSV folder (the six rating files), so a plan can
 * go back to a CGRateS deployment, and so tests can round-trip plans through the importer.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANY, type TariffPlan } from '../rating/model.js';
import { formatQuantity } from './quantities.js';

function csv(header: string, rows: (string | number)[][]): string {
  return [`#${header}`, ...rows.map((r) => r.map(String).join(','))].join('\n') + '\n';
}

const list = (values: (string | number)[]) => (values.length ? values.join(';') : ANY);

export function cgratesFiles(plan: TariffPlan, unit: 'second' | 'unit'): Record<string, string> {
  const q = (n: number) => formatQuantity(n, unit);
  return {
    'Destinations.csv': csv(
      'Id,Prefix',
      plan.destinations.flatMap((d) => d.prefixes.map((p) => [d.id, p])),
    ),
    'Timings.csv': csv(
      'Id,Years,Months,MonthDays,WeekDays,Time',
      plan.timings.map((t) => [
        t.id,
        list(t.years),
        list(t.months),
        list(t.monthDays),
        list(t.weekDays),
        t.startTime,
      ]),
    ),
    'Rates.csv': csv(
      'Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart',
      plan.rates.flatMap((r) =>
        r.slots.map((s) => [
          r.id,
          s.connectFee,
          s.rate,
          q(s.rateUnit),
          q(s.rateIncrement),
          q(s.groupIntervalStart),
        ]),
      ),
    ),
    'DestinationRates.csv': csv(
      'Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy',
      plan.destinationRates.flatMap((dr) =>
        dr.bindings.map((b) => [
          dr.id,
          b.destination,
          b.rate,
          `*${b.roundingMethod}`,
          b.roundingDecimals,
          b.maxCost,
          b.maxCostStrategy ? `*${b.maxCostStrategy}` : '',
        ]),
      ),
    ),
    'RatingPlans.csv': csv(
      'Id,DestinationRatesId,TimingTag,Weight',
      plan.ratingPlans.flatMap((p) => p.bindings.map((b) => [p.id, b.destinationRate, b.timing, b.weight])),
    ),
    'RatingProfiles.csv': csv(
      'Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject',
      plan.ratingProfiles.flatMap((p) =>
        p.activations.map((a) => [
          p.tenant,
          p.category,
          p.subject,
          a.activationTime,
          a.ratingPlan,
          a.fallbackSubjects.join(';'),
        ]),
      ),
    ),
  };
}

export async function writeCgratesFolder(
  plan: TariffPlan,
  dir: string,
  unit: 'second' | 'unit',
): Promise<void> {
  for (const [name, text] of Object.entries(cgratesFiles(plan, unit))) await writeFile(join(dir, name), text);
}
