/**
 * Numbers as the network sends them: rated as dialled unless a tenant's rule says otherwise, with
 * URI schemes and parameters stripped, the same by the charging API, the price enquiry, the CLI and
 * CDR files; the service-context table as configuration. A CGRateS-style CSV tariff with national
 * prefixes (`07`, `01`) beside international ones (`+447`, `+441`), on the real Redis and PostgreSQL.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { rateCommand } from '../../src/cli/rate-command.js';
import type { ApiKey } from '../../src/config.js';
import { decimalToNano } from '../../src/rating/money.js';
import {
  dialledNumber,
  patternProblem,
  stripUri,
  compileNumberRules,
} from '../../src/rating/number-format.js';
import { TariffError } from '../../src/tariffs/errors.js';
import { parseNetwork } from '../../src/tariffs/network-file.js';
import { compileServiceKinds } from '../../src/rating/service-kinds.js';
import { loadTariffFolder } from '../../src/tariffs/load.js';
import { openActiveTariff } from '../../src/tariffs/active.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { dumpKeys } from '../support/redis-dump.js';

/** CGRateS tariff CSVs: national and international prefixes of the same destinations, a short code, MMS. */
const CSV: Record<string, string> = {
  'Destinations.csv': `#Id,Prefix
DST_UK_MOBILE,07
DST_UK_MOBILE,+447
DST_UK_FIXED,01
DST_UK_FIXED,+441
DST_FR,+33
DST_SHORT,121
`,
  'Rates.csv': `#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_MOBILE,0,0.12,60s,60s,0s
RT_FIXED,0,0.06,60s,60s,0s
RT_FR,0,0.30,60s,60s,0s
RT_SHORT,0,0.01,60s,60s,0s
RT_MMS,0,0.25,1,1,0
RT_DATA,0,0.01,1048576,1048576,0
`,
  'DestinationRates.csv': `#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_STD,DST_UK_MOBILE,RT_MOBILE,*up,4,0,
DR_STD,DST_UK_FIXED,RT_FIXED,*up,4,0,
DR_STD,DST_FR,RT_FR,*up,4,0,
DR_STD,DST_SHORT,RT_SHORT,*up,4,0,
DR_MMS,*any,RT_MMS,*up,4,0,
DR_DATA,*any,RT_DATA,*up,4,0,
`,
  'RatingPlans.csv': `#Id,DestinationRatesId,TimingTag,Weight
RP_STD,DR_STD,*any,10
RP_MMS,DR_MMS,*any,10
RP_DATA,DR_DATA,*any,10
`,
  'RatingProfiles.csv': `#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
cgrates.org,call,*any,2026-01-01T00:00:00Z,RP_STD,
cgrates.org,mms,*any,2026-01-01T00:00:00Z,RP_MMS,
cgrates.org,data,*any,2026-01-01T00:00:00Z,RP_DATA,
e164.org,call,*any,2026-01-01T00:00:00Z,RP_STD,
`,
};

/** cgrates.org rates numbers as dialled (only `00` becomes `+`); e164.org makes national numbers E.164. */
const NETWORK = {
  numbers: {
    'cgrates.org': [{ id: 'intl-00', match: '^00', replace: '+' }],
    'e164.org': [
      { id: 'intl-00', match: '^00', replace: '+' },
      { id: 'national', match: '^0(?=[1-9])', replace: '+44' },
    ],
  },
  serviceContexts: {
    '32260@huawei.com': { category: 'call', tor: 'voice' },
    '32270@3gpp.org': { category: 'mms', tor: 'sms' },
    // A gateway that charges downlink only.
    '32251@huawei.com': { category: 'data', tor: 'data', usage: 'outputOctets' },
  },
};

function tariffFolder(network: unknown = NETWORK): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocs-numbers-'));
  for (const [name, text] of Object.entries(CSV)) writeFileSync(join(dir, name), text);
  if (network !== undefined) writeFileSync(join(dir, 'network.json'), JSON.stringify(network));
  return dir;
}

const TARIFF = tariffFolder();
const CDR_DIR = mkdtempSync(join(tmpdir(), 'ocs-numbers-cdr-'));
const TEL = 'tel:+447700900123;phone-context=ims.mnc015.mcc234.3gppnetwork.org';

/** Number as sent → the number stored per tenant, and the price of a 60 s call to it. */
const TABLE: { sent: string; cgrates: string; e164: string; cost: string }[] = [
  { sent: '07700900123', cgrates: '07700900123', e164: '+447700900123', cost: '0.12' },
  { sent: '+447700900123', cgrates: '+447700900123', e164: '+447700900123', cost: '0.12' },
  { sent: '00447700900123', cgrates: '+447700900123', e164: '+447700900123', cost: '0.12' },
  { sent: TEL, cgrates: '+447700900123', e164: '+447700900123', cost: '0.12' },
  {
    sent: 'sip:07700900123@ims.example.net;user=phone',
    cgrates: '07700900123',
    e164: '+447700900123',
    cost: '0.12',
  },
  {
    sent: 'sips:+441612345678@ims.example.net',
    cgrates: '+441612345678',
    e164: '+441612345678',
    cost: '0.06',
  },
  { sent: '01612345678', cgrates: '01612345678', e164: '+441612345678', cost: '0.06' },
  { sent: '0033612345678', cgrates: '+33612345678', e164: '+33612345678', cost: '0.3' },
  { sent: '121', cgrates: '121', e164: '121', cost: '0.01' },
];

const TENANTS = [
  { tenant: 'cgrates.org', key: 'net-cgrates', stored: (r: (typeof TABLE)[0]) => r.cgrates },
  { tenant: 'e164.org', key: 'net-e164', stored: (r: (typeof TABLE)[0]) => r.e164 },
];
const KEYS: ApiKey[] = [
  ...TENANTS.map((t): ApiKey => ({ key: t.key, role: 'network', tenant: t.tenant })),
  { key: 'operator', role: 'operator', tenant: 'cgrates.org' },
];
const MSISDN = '447700900001';
const ANSWER_TIME = '2026-11-20T10:00:00Z';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let balances: BalanceStore;

beforeAll(async () => {
  ({ app, balances } = await testApp({ redis, prefix, tariffDir: TARIFF, keys: KEYS }));
  await ensureCdrSchema(pool, schema);
  for (const { tenant } of TENANTS) {
    const account = { tenant, id: 'alice', type: 'prepaid' as const, currency: 'GBP', subject: 'alice' };
    await balances.createAccount({ ...account, subscriptions: [{ type: 'msisdn', value: MSISDN }] }, 'c');
    await balances.addBalance(tenant, 'alice', { id: 'main', unit: 'money', value: 100_000_000_000 }, 'b');
  }
});
afterAll(() => app.close());

const auth = (tenant: string) => ({
  authorization: `Bearer ${TENANTS.find((t) => t.tenant === tenant)!.key}`,
});

/** The charging API's price enquiry (Diameter IEC, PRICE_ENQUIRY) for a 60 s call. */
async function chargingApiCost(tenant: string, number: string, context = '32260@3gpp.org') {
  const r = await app.inject({
    method: 'POST',
    url: `/v1/events/${encodeURIComponent(`pe-${tenant}-${number}-${context}`)}`,
    headers: auth(tenant),
    payload: {
      requestedAction: 'PRICE_ENQUIRY',
      eventTime: ANSWER_TIME,
      serviceContextId: context,
      subscriptionIds: [{ type: 'E164', data: MSISDN }],
      serviceInformation: { ims: { calledParty: number } },
      mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
    },
  });
  expect(r.statusCode).toBe(200);
  return r.json() as { resultCode: number; costInformation?: { amount: string } };
}

async function priceEnquiryCost(tenant: string, number: string) {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/rating/price',
    headers: auth(tenant),
    payload: {
      category: 'call',
      subject: 'alice',
      destination: number,
      answerTime: ANSWER_TIME,
      usage: 60,
      tor: 'voice',
    },
  });
  expect(r.statusCode, r.body).toBe(200);
  return (r.json() as { cost: string }).cost;
}

async function cliCosts(tenant: string): Promise<string[]> {
  const lines = TABLE.map((row, i) =>
    JSON.stringify({
      id: i,
      tenant,
      category: 'call',
      subject: 'alice',
      destination: row.sent,
      answerTime: ANSWER_TIME,
      usage: 60,
      tor: 'voice',
    }),
  );
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  expect(await rateCommand({ tariff: TARIFF }, Readable.from([lines.join('\n') + '\n']), out)).toBe(0);
  return text
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { cost: string }).cost);
}

/** A CDR file of the table, imported: what each line was stored with (destination, money). */
async function cdrRows(tenant: string) {
  const file = join(CDR_DIR, `${tenant}.csv`);
  const lines = TABLE.map(
    (row, i) => `${tenant}-${i},${tenant},${MSISDN},call,voice,${row.sent},${ANSWER_TIME},60,,`,
  );
  writeFileSync(
    file,
    `cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group\n${lines.join('\n')}\n`,
  );
  const rating = createRatingPool({ tariffDir: TARIFF, threads: 1 });
  try {
    const c = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: `numbers-${tenant}` });
    expect(c.stored).toBe(TABLE.length);
  } finally {
    await rating.close();
  }
  const rows = await pool.query<{ cdr_id: string; destination: string; charged: string }>(
    `SELECT cdr_id, destination, charged_nano::text AS charged FROM ${schema}.rated_cdrs WHERE tenant = $1`,
    [tenant],
  );
  const byId = new Map(rows.rows.map((r) => [r.cdr_id, r]));
  return TABLE.map((_, i) => byId.get(`${tenant}-${i}`)!);
}

describe('numbers as the network sends them', () => {
  it('strips URI schemes, hosts and parameters, and keeps a bare number as dialled', () => {
    expect(stripUri(TEL)).toBe('+447700900123');
    expect(stripUri('sip:+447700900123@ims.example.net;user=phone')).toBe('+447700900123');
    expect(stripUri('SIPS:07700900123@h')).toBe('07700900123');
    expect(stripUri('tel:121?x=1')).toBe('121');
    expect(stripUri('07700900123')).toBe('07700900123');
    expect(stripUri('447700900123')).toBe('447700900123');
    const none = compileNumberRules(undefined);
    expect(dialledNumber(none, 'any', '07700900123')).toBe('07700900123');
  });

  it('applies the tenant rules in order, or *any for tenants without their own', () => {
    const rules = compileNumberRules({
      '*any': [{ id: 'plus', match: '^([1-9]\\d{6,})$', replace: '+$1' }],
      t: [
        { id: 'intl', match: '^00', replace: '+' },
        { id: 'national', match: '^0(?=[1-9])', replace: '+44' },
      ],
    });
    expect(dialledNumber(rules, 't', '0044161')).toBe('+44161');
    expect(dialledNumber(rules, 't', '0161')).toBe('+44161');
    expect(dialledNumber(rules, 'other', '4477009001')).toBe('+4477009001');
    expect(dialledNumber(rules, 'other', '07700900123')).toBe('07700900123');
  });

  it.each([
    ['(\\d+)*$', 'anchored'],
    ['^(\\d+)*$', 'nested'],
    ['^(a|a)*$', 'alternation'],
    ['^0|\\d*\\d*x', 'inside a group'],
    ['^(\\d)\\1', 'backreferences'],
    ['^\\d*\\d*\\d*', 'too many quantifiers'],
    ['^\\d*\\d*\\d{0,32}\\d?x', 'too many quantifiers'],
    ['^(', 'not a valid regular expression'],
    [`^${'0'.repeat(100)}`, 'characters'],
  ])('refuses the pattern %s (%s)', (pattern, why) => {
    expect(patternProblem(pattern)).toContain(why);
  });

  it('prices a number with the costliest pattern taken (no catastrophic backtracking)', () => {
    const worst = '^\\d*\\d*\\d?\\d?x';
    expect(patternProblem(worst)).toBeUndefined();
    const rules = compileNumberRules({ t: [{ id: 'worst', match: worst, replace: '' }] });
    // No timed assertion (the box is shared): with backtracking this pattern over 256 digits would
    // run for ages, past the test timeout; bounded, it took ~2 ms.
    expect(dialledNumber(rules, 't', '1'.repeat(256))).toBe('1'.repeat(256));
  });

  it('stops applying rules once a number outgrows 256 characters', () => {
    const double = { match: '^.*', replace: '$&$&' };
    const rules = compileNumberRules({
      t: Array.from({ length: 32 }, (_, i) => ({ id: `d${i}`, ...double })),
    });
    expect(dialledNumber(rules, 't', '12345678').length).toBe(512);
  });

  it.each(['^00', '^0(?=[1-9])', '^\\+?44(\\d{9,10})$', '^(?:0|\\+44)7', '^[0-9]{3,15}$'])(
    'takes the pattern %s',
    (pattern) => expect(patternProblem(pattern)).toBeUndefined(),
  );

  it('refuses a tariff folder whose network.json is wrong, naming the rule and the context', async () => {
    const dir = tariffFolder({
      numbers: { 'cgrates.org': [{ id: 'slow', match: '^(\\d+)+$', replace: '' }] },
      serviceContexts: { 'x@huawei.com': { category: 'call', tor: 'voice', usage: 'totalOctets' } },
    });
    const err = await loadTariffFolder(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TariffError);
    const messages = (err as TariffError).problems.map((p) => `${p.file} ${p.path}: ${p.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^network\.json \/numbers\/cgrates\.org\/0: rule slow: .*nested/),
      expect.stringMatching(
        /^network\.json \/serviceContexts\/x@huawei\.com: context x@huawei\.com: usage of voice/,
      ),
    ]);
  });

  it('a reload with a bad rule keeps the last good tariff', async () => {
    const active = await openActiveTariff(TARIFF);
    const bad = tariffFolder({ numbers: { 'cgrates.org': [{ id: 'open', match: '00', replace: '+' }] } });
    const r = await active.reload(bad);
    expect(r.ok).toBe(false);
    expect(dialledNumber(active.current().numbers, 'cgrates.org', '0044')).toBe('+44');
  });

  it.each(TENANTS)(
    'the charging API, the price enquiry, the CLI and CDR files agree on every number ($tenant)',
    async ({ tenant, stored }) => {
      const cli = await cliCosts(tenant);
      const cdr = await cdrRows(tenant);
      for (const [i, row] of TABLE.entries()) {
        const api = await chargingApiCost(tenant, row.sent);
        expect(api.resultCode, row.sent).toBe(2001);
        const nano = decimalToNano(row.cost);
        expect(decimalToNano(api.costInformation!.amount), `charging API ${row.sent}`).toBe(nano);
        expect(decimalToNano(await priceEnquiryCost(tenant, row.sent)), `price ${row.sent}`).toBe(nano);
        expect(decimalToNano(cli[i]!), `cli ${row.sent}`).toBe(nano);
        expect(Number(cdr[i]!.charged), `cdr ${row.sent}`).toBe(nano);
        expect(cdr[i]!.destination, `stored ${row.sent}`).toBe(stored(row));
      }
    },
  );

  it('opens a voice session to a national number (no + is put before it)', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/sessions/national-1/initiate',
      headers: auth('cgrates.org'),
      payload: {
        requestNumber: 0,
        eventTime: ANSWER_TIME,
        serviceContextId: '32260@3gpp.org',
        subscriptionIds: [{ type: 'E164', data: MSISDN }],
        serviceInformation: { ims: { calledParty: 'sip:07700900123@ims.example.net;user=phone' } },
        mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
      },
    });
    expect(r.json()).toMatchObject({ resultCode: 2001, mscc: [{ resultCode: 2001, granted: { time: 60 } }] });
    // The session keeps the number it rates: without the URI's host and parameters.
    const keys = await dumpKeys(redis, prefix);
    const session = Object.entries(keys).find(([k]) => k.endsWith(':sess:national-1'));
    expect(JSON.stringify(session)).toContain('07700900123');
    expect(JSON.stringify(session)).not.toMatch(/user=phone|ims\.example/);
  });

  it('maps vendor and MMS service contexts by configuration', async () => {
    const huawei = await chargingApiCost('cgrates.org', '07700900123', '32260@huawei.com');
    expect(huawei).toMatchObject({ resultCode: 2001, costInformation: { amount: '0.12' } });
    const r = await app.inject({
      method: 'POST',
      url: '/v1/events/mms-1',
      headers: auth('cgrates.org'),
      payload: {
        requestedAction: 'DIRECT_DEBITING',
        eventTime: ANSWER_TIME,
        serviceContextId: '32270@3gpp.org',
        subscriptionIds: [{ type: 'E164', data: MSISDN }],
        serviceInformation: { sms: { recipients: ['07700900123'] } },
        mscc: [{ ratingGroup: 400, requested: { serviceSpecificUnits: 1 } }],
      },
    });
    expect(r.json()).toMatchObject({
      resultCode: 2001,
      mscc: [{ ratingGroup: 400, resultCode: 2001, granted: { serviceSpecificUnits: 1 } }],
      costInformation: { amount: '0.25' },
    });
    // An unknown context is still refused as before.
    expect((await chargingApiCost('cgrates.org', '07700900123', '99999@example.com')).resultCode).toBe(5031);
  });

  it('counts the usage field a context names, in a session too (a downlink-only data context)', async () => {
    const MiB = 1048576;
    const money = async () =>
      (await balances.getAccount('cgrates.org', 'alice'))!.balances.find((b) => b.id === 'main')!.value;
    const step = (phase: string, body: object) =>
      app.inject({
        method: 'POST',
        url: `/v1/sessions/downlink-1/${phase}`,
        headers: auth('cgrates.org'),
        payload: { eventTime: ANSWER_TIME, ...body },
      });
    const before = await money();
    const init = await step('initiate', {
      requestNumber: 0,
      serviceContextId: '6.32251@huawei.com',
      subscriptionIds: [{ type: 'E164', data: MSISDN }],
      mscc: [{ ratingGroup: 10, requested: { outputOctets: 2 * MiB } }],
    });
    expect(init.json()).toMatchObject({ resultCode: 2001, mscc: [{ granted: { outputOctets: 2 * MiB } }] });
    const end = await step('terminate', {
      requestNumber: 1,
      mscc: [{ ratingGroup: 10, used: [{ inputOctets: 5 * MiB, outputOctets: MiB }] }],
    });
    expect(end.json()).toMatchObject({ resultCode: 2001 });
    expect(before - (await money())).toBe(decimalToNano('0.01')); // 1 MiB down; the 5 MiB up are free
  });

  it('keeps a context id that is an object key of JavaScript ("__proto__") as a context', () => {
    const { network } = parseNetwork(
      JSON.parse('{"serviceContexts":{"__proto__":{"category":"x","tor":"sms"}}}'),
    );
    expect(compileServiceKinds(network!.serviceContexts).get('__proto__')).toEqual({
      category: 'x',
      tor: 'sms',
      usage: 'serviceSpecificUnits',
    });
  });

  it('a reload through the API with a bad rule answers every problem and keeps the rules in force', async () => {
    const file = join(TARIFF, 'network.json');
    writeFileSync(
      file,
      JSON.stringify({ numbers: { 'cgrates.org': [{ id: 'slow', match: '^(0|00)+', replace: '' }] } }),
    );
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/tariff/reload',
        headers: { authorization: 'Bearer operator' },
      });
      expect(r.statusCode).toBe(422);
      expect(r.json()).toMatchObject({
        cause: 'INVALID_TARIFF',
        problems: [
          {
            file: 'network.json',
            path: '/numbers/cgrates.org/0',
            message: expect.stringContaining('rule slow'),
          },
        ],
      });
      expect(
        decimalToNano((await chargingApiCost('cgrates.org', '0033612345678')).costInformation!.amount),
      ).toBe(decimalToNano('0.3'));
    } finally {
      writeFileSync(file, JSON.stringify(NETWORK));
    }
  });
});
