/** The CGRateS CSV importer: what it accepts, how it converts, and how it reports problems. */
import { describe, expect, it } from 'vitest';
import { TariffError, type Problem } from '../../src/tariffs/errors.js';
import { loadTariffFolder } from '../../src/tariffs/load.js';
import { folder } from './folders.js';

const GOOD = {
  'Destinations.csv': '#Id,Prefix\nDST_1002,1002\nDST_1001,1001\nDST_FS,10\n',
  'Timings.csv':
    '#Id,Years,Months,MonthDays,WeekDays,Time\nPEAK,*any,*any,*any,1;2;3;4;5,08:00:00\nWEEKEND,*any,*any,*any,6;0,00:00:00\n',
  'Rates.csv':
    '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_20CNT,0,0.1,60s,1s,60s\nRT_20CNT,0.4,0.2,60s,60s,0s\nRT_SMS,0,0.01,1,1,0\n',
  'DestinationRates.csv':
    '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\nDR_1002,DST_1002,RT_20CNT,*up,4,0,\nDR_SMS,*any,RT_SMS,*middle,4,0.5,*free\n',
  'RatingPlans.csv':
    '#Id,DestinationRatesId,TimingTag,Weight\nRP_1001,DR_1002,PEAK,10\nRP_1001,DR_SMS,*any,5\n',
  'RatingProfiles.csv':
    '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\ncgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1001,*any;1002\ncgrates.org,call,*any,2014-01-14T00:00:00Z,RP_1001,\n',
  'Actions.csv': '#ActionsId,Action\nACT,*topup\n',
};

async function problemsOf(files: Record<string, string>): Promise<Problem[]> {
  const err = await loadTariffFolder(await folder(files)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TariffError);
  return (err as TariffError).problems;
}

describe('CGRateS CSV importer', () => {
  it('converts a tariff plan folder into the model', async () => {
    const { plan, format, warnings } = await loadTariffFolder(await folder(GOOD));
    expect(format).toBe('cgrates-csv');
    expect(warnings).toEqual(['Actions.csv: not part of a tariff (accounts, actions, filters ...), ignored']);
    expect(plan.destinations).toContainEqual({ id: 'DST_FS', prefixes: ['10'] });
    // Slots sorted by group interval start; durations in nanoseconds; a bare 1 is one unit.
    expect(plan.rates.find((r) => r.id === 'RT_20CNT')!.slots).toEqual([
      { connectFee: '0.4', rate: '0.2', rateUnit: 60e9, rateIncrement: 60e9, groupIntervalStart: 0 },
      { connectFee: '0', rate: '0.1', rateUnit: 60e9, rateIncrement: 1e9, groupIntervalStart: 60e9 },
    ]);
    expect(plan.rates.find((r) => r.id === 'RT_SMS')!.slots[0]!.rateUnit).toBe(1);
    // CGRateS Sunday is 0; ours is ISO 7.
    expect(plan.timings.find((t) => t.id === 'WEEKEND')!.weekDays).toEqual([6, 7]);
    expect(plan.timings.find((t) => t.id === 'PEAK')!.months).toEqual([]);
    expect(plan.destinationRates.find((d) => d.id === 'DR_SMS')!.bindings[0]).toMatchObject({
      roundingMethod: 'middle',
      maxCost: '0.5',
      maxCostStrategy: 'free',
    });
    // `*any` as a fallback subject is a subject, not "anything".
    expect(plan.ratingProfiles[0]!.activations[0]!.fallbackSubjects).toEqual(['*any', '1002']);
  });

  it('accepts comments, blank lines, CRLF, quotes and the old Direction column', async () => {
    const { plan } = await loadTariffFolder(
      await folder({
        ...GOOD,
        'Destinations.csv': '#Id,Prefix\r\n\r\n# national\r\n"DST_1002","1002"\r\n',
        'RatingProfiles.csv':
          '#Direction,Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject,CdrStatQueueIds\n*out,cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1001,,\n',
      }),
    );
    expect(plan.destinations).toEqual([{ id: 'DST_1002', prefixes: ['1002'] }]);
    expect(plan.ratingProfiles).toEqual([
      {
        tenant: 'cgrates.org',
        category: 'call',
        subject: '1001',
        activations: [
          { activationTime: '2014-01-14T00:00:00Z', ratingPlan: 'RP_1001', fallbackSubjects: [] },
        ],
      },
    ]);
  });

  it('refuses the whole plan and lists every problem with file, line and field', async () => {
    const problems = await problemsOf({
      ...GOOD,
      'Rates.csv':
        '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_20CNT,0.4,abc,60s,60s,0s\nRT_SMS,0,0.01,1x,1,0\n',
      'DestinationRates.csv':
        '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\nDR_1002,DST_NOPE,RT_20CNT,*sideways,4,0,\nDR_SMS,*any,RT_MISSING,*up,4,0,*maybe\n',
      'Timings.csv': '#Id,Years,Months,MonthDays,WeekDays,Time\nPEAK,*any,13,*any,1;2,8am\n',
    });
    const summary = problems.map((p) => `${p.file}:${p.line}:${p.field}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'Rates.csv:2:Rate',
        'Rates.csv:3:RateUnit',
        'DestinationRates.csv:2:RoundingMethod',
        'DestinationRates.csv:3:MaxCostStrategy',
        'DestinationRates.csv:2:destination',
        'DestinationRates.csv:3:rate',
        'Timings.csv:2:Time',
        'Timings.csv:2:Months',
      ]),
    );
    expect(problems.find((p) => p.field === 'destination')!.message).toContain('DST_NOPE');
  });

  it('names the line of a dangling reference', async () => {
    const problems = await problemsOf({
      ...GOOD,
      'RatingPlans.csv':
        '#Id,DestinationRatesId,TimingTag,Weight\nRP_1001,DR_1002,PEAK,10\nRP_1001,DR_GONE,NIGHT,5\n',
    });
    expect(problems).toEqual([
      {
        file: 'RatingPlans.csv',
        line: 3,
        field: 'destinationRate',
        message: 'unknown destination rate "DR_GONE"',
      },
      { file: 'RatingPlans.csv', line: 3, field: 'timing', message: 'unknown timing "NIGHT"' },
    ]);
  });

  it('reports a missing rating file and an unknown rating plan', async () => {
    const { 'Rates.csv': _r, ...noRates } = GOOD;
    expect((await problemsOf(noRates)).map((p) => p.file)).toContain('Rates.csv');
    const problems = await problemsOf({
      ...GOOD,
      'RatingProfiles.csv':
        '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\nt,call,*any,2014-01-14T00:00:00Z,RP_X,\nt,call,a,yesterday,RP_1001,\n',
    });
    expect(problems.map((p) => `${p.line}:${p.field}`)).toEqual([
      '3:ActivationTime',
      '2:ratingPlan',
      '3:activationTime',
    ]);
  });

  it('refuses a folder that is no tariff at all', async () => {
    const problems = await problemsOf({ 'README.txt': 'hello' });
    expect(problems[0]!.message).toContain('neither tariff.json nor a CGRateS tariff plan');
  });
});

describe('CGRateS weights', () => {
  it('accept decimals, as CGRateS writes floats', async () => {
    const { plan } = await loadTariffFolder(
      await folder({
        ...GOOD,
        'RatingPlans.csv':
          '#Id,DestinationRatesId,TimingTag,Weight\nRP_1001,DR_1002,PEAK,10.5\nRP_1001,DR_SMS,*any,5\n',
      }),
    );
    expect(plan.ratingPlans[0]!.bindings.map((b) => b.weight)).toEqual([10.5, 5]);
  });
});
