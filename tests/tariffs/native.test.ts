/** The native tariff.json: errors name the JSON path and field; the samples agree across formats. */
import { describe, expect, it } from 'vitest';
import { compileTariff } from '../../src/rating/index.js';
import { TariffError, type Problem } from '../../src/tariffs/errors.js';
import { loadTariffFolder } from '../../src/tariffs/load.js';
import { caseToTariffPlan, loadConformanceCases } from '../support/conformance.js';
import { writeCgratesCsvFolder, writeNativeFolder } from '../support/tariff-writers.js';
import { folder } from './folders.js';

const minimal = {
  format: 'ocs-tariff/1',
  timezone: 'Europe/London',
  destinations: [{ id: 'UK', prefixes: ['+44'] }],
  rates: [{ id: 'R', slots: [{ rate: '0.10', rateUnit: '60s', rateIncrement: '1s' }] }],
  destinationRates: [
    { id: 'DR', bindings: [{ destination: 'UK', rate: 'R', roundingMethod: 'up', roundingDecimals: 4 }] },
  ],
  ratingPlans: [{ id: 'RP', bindings: [{ destinationRate: 'DR' }] }],
  ratingProfiles: [
    {
      tenant: 't',
      category: 'call',
      subject: '*any',
      activations: [{ activationTime: '2026-01-01T00:00:00Z', ratingPlan: 'RP' }],
    },
  ],
};

async function problemsOf(doc: unknown): Promise<Problem[]> {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  const err = await loadTariffFolder(await folder({ 'tariff.json': text })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TariffError);
  return (err as TariffError).problems;
}

describe('native tariff format', () => {
  it('loads with defaults filled in', async () => {
    const { plan, format } = await loadTariffFolder(await folder({ 'tariff.json': JSON.stringify(minimal) }));
    expect(format).toBe('native');
    expect(plan.rates[0]!.slots[0]).toEqual({
      connectFee: '0',
      rate: '0.10',
      rateUnit: 60e9,
      rateIncrement: 1e9,
      groupIntervalStart: 0,
    });
    expect(plan.ratingPlans[0]!.bindings[0]).toEqual({ destinationRate: 'DR', timing: '*any', weight: 0 });
    expect(plan.destinationRates[0]!.bindings[0]).toMatchObject({ maxCost: '0', maxCostStrategy: null });
  });

  it('names the JSON path and field of every problem', async () => {
    const bad = structuredClone(minimal) as Record<string, unknown> & typeof minimal;
    bad.timezone = 'Mars/Olympus';
    (bad.rates[0]!.slots[0] as Record<string, unknown>).rateUnit = 'sixty';
    (bad.rates[0]!.slots[0] as Record<string, unknown>).rte = '0.1';
    (bad.destinationRates[0]!.bindings[0] as Record<string, unknown>).roundingDecimals = 'four';
    const problems = await problemsOf(bad);
    expect(problems.map((p) => `${p.path}:${p.field}`)).toEqual([
      '/rates/0/slots/0:rte',
      '/rates/0/slots/0:rateUnit',
      '/destinationRates/0/bindings/0:roundingDecimals',
      '/timezone:timezone',
    ]);
    expect(problems.every((p) => p.file === 'tariff.json')).toBe(true);
  });

  it('validates the whole plan: values, references, duplicates, time zone', async () => {
    const bad = structuredClone(minimal);
    bad.timezone = 'Mars/Olympus';
    bad.rates.push({ id: 'R', slots: [{ rate: '-1', rateUnit: '60s', rateIncrement: '1s' }] });
    bad.destinationRates[0]!.bindings[0]!.destination = 'FR';
    bad.ratingProfiles[0]!.activations[0]!.ratingPlan = 'NOPE';
    const problems = await problemsOf(bad);
    expect(problems.map((p) => `${p.path ?? ''}:${p.field}`)).toEqual([
      '/timezone:timezone',
      '/rates/1:id',
      '/rates/1/slots/0:rate',
      '/destinationRates/0/bindings/0:destination',
      '/ratingProfiles/0/activations/0:ratingPlan',
    ]);
  });

  it('reports malformed JSON', async () => {
    const problems = await problemsOf('{"format": ');
    expect(problems[0]!.message).toMatch(/^not valid JSON/);
  });
});

describe('both formats describe the same plans', () => {
  it('the sample plan loads identically from tariffs/sample and tariffs/sample-cgrates', async () => {
    const native = await loadTariffFolder('tariffs/sample');
    const csv = await loadTariffFolder('tariffs/sample-cgrates', { timezone: 'Europe/London' });
    expect(csv.plan).toEqual(native.plan);
    expect(() => compileTariff(native.plan)).not.toThrow();
  });

  it('every conformance plan round-trips through both writers and loaders', async () => {
    for (const c of loadConformanceCases().filter((c) => c.tariff)) {
      const plan = caseToTariffPlan(c.tariff, c.unit);
      const unit = c.unit === 'second' ? 'second' : 'unit';
      const a = await folder({});
      await writeCgratesCsvFolder(plan, a, { unit });
      const b = await folder({});
      await writeNativeFolder(plan, b, { unit });
      expect((await loadTariffFolder(a)).plan, c.id).toEqual(plan);
      expect((await loadTariffFolder(b)).plan, c.id).toEqual(plan);
    }
  });
});
