/**
 * One unit of usage in rated_records (storage/record-units.ts): a 95 s voice event and a 95 s voice
 * session both store 95 (seconds, as rated CDRs do), the CGRateS CDR reads show both as "1m35s",
 * the daily rollup sums them to 190, and the start-up upgrade converts a row an older version stored
 * in nanoseconds once (a second start changes nothing), with the rollup's day recomputed.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureCdrSchema, ensurePartitions } from '../../src/cdr/store.js';
import { cdrReads } from '../../src/cgrates-api/cdr-reads.js';
import { cdrMethods } from '../../src/cgrates-api/cdrs.js';
import type { CgrContext } from '../../src/cgrates-api/context.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { USAGE_COMMENT } from '../../src/storage/record-units.js';
import { ensureRecordsSchema, RecordRows } from '../../src/storage/records.js';
import { rollupOnce } from '../../src/usage/rollup.js';
import { ensureUsageSchema } from '../../src/usage/schema.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let store: BalanceStore;
const NET = { authorization: 'Bearer demo-network' };
const SUB = [{ type: 'E164', data: '447700900001' }];
const CALLED = { ims: { calledParty: 'tel:+447911123456' } };

beforeAll(async () => {
  await ensureRecordsSchema(pool, schema);
  await ensureLedgerSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureUsageSchema(pool, schema);
  const c = await pool.connect();
  try {
    await ensurePartitions(c, schema, ['2026-11']);
  } finally {
    c.release();
  }
  ({ app, balances: store } = await testApp({ redis, prefix, history: { pool, schema } }));
  const account = {
    tenant: 'acme',
    id: 'alice',
    type: 'prepaid',
    currency: 'GBP',
    subject: 'alice',
  } as const;
  await store.createAccount({ ...account, subscriptions: [{ type: 'msisdn', value: '447700900001' }] }, 'c');
  await store.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 100_000_000_000 }, 'b');
});
afterAll(() => app.close());

const post = async (url: string, payload: object) => {
  const r = await app.inject({ method: 'POST', url, headers: NET, payload });
  expect(r.statusCode, r.body).toBe(200);
};

const usageOf = async (recordId: string) =>
  (
    await pool.query<{ u: string; s: Date }>(
      `SELECT usage::text AS u, stored_at AS s FROM ${schema}.rated_records WHERE record_id = $1`,
      [recordId],
    )
  ).rows[0]!;

const voiceQuantity = async (day: string) =>
  (
    await pool.query<{ q: string | null }>(
      `SELECT sum(quantity)::text AS q FROM ${schema}.usage_daily
        WHERE account_id = 'alice' AND day = $1 AND tor = 'voice' AND source = 'record'`,
      [day],
    )
  ).rows[0]!.q;

async function getCdrs(): Promise<{ OriginID: string; Usage: string }[]> {
  const c = { principal: { tenant: 'acme', role: 'billing' }, cdrs: cdrReads(pool, schema) };
  return (await cdrMethods['CDRsV2.GetCDRs']({ Accounts: ['alice'] }, c as unknown as CgrContext)) as never;
}

describe('usage of rated records in event units', () => {
  it('stores 95 for a 95 s voice event and a 95 s voice session; GetCDRs and the rollup agree', async () => {
    await post('/v1/events/call-e', {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T09:00:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: SUB,
      serviceInformation: CALLED,
      mscc: [{ ratingGroup: 100, requested: { time: 95 } }],
    });
    await post('/v1/sessions/call-s/initiate', {
      requestNumber: 0,
      eventTime: '2026-11-20T10:00:00Z',
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: SUB,
      serviceInformation: CALLED,
      mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
    });
    await post('/v1/sessions/call-s/terminate', {
      requestNumber: 1,
      eventTime: '2026-11-20T10:01:35Z',
      terminationCause: 'DIAMETER_LOGOUT',
      mscc: [{ ratingGroup: 100, used: [{ time: 95 }] }],
    });
    // A rated CDR of a file, on another day: seconds too.
    await pool.query(
      `INSERT INTO ${schema}.rated_cdrs (cdr_id, tenant, account_id, subscriber, category, service, destination,
         answer_time, usage, rated_usage, cost_nano, currency, charged_nano, file_id, line)
       VALUES ('f-1', 'acme', 'alice', 's', 'call', 'voice', '+44', '2026-11-21T09:00:00Z', 95, 95, 1, 'GBP', 1, 'f', 1)`,
    );
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })).toBeGreaterThan(0);

    expect((await usageOf('event:call-e')).u).toBe('95');
    expect((await usageOf('session:call-s:100')).u).toBe('95');
    const cdrs = await getCdrs();
    expect(cdrs.map((c) => [c.OriginID, c.Usage])).toEqual([
      ['event:call-e', '1m35s'],
      ['session:call-s:100', '1m35s'],
      ['f-1', '1m35s'],
    ]);
    expect((await rollupOnce(pool, schema)).ran).toBe(true);
    expect(await voiceQuantity('2026-11-20')).toBe('190');
  });

  it('converts a nanosecond row of an older version once, and the rollup recomputes its day', async () => {
    // As an older version stored it, after the rollup had folded it in.
    await pool.query(
      `INSERT INTO ${schema}.rated_records (record_id, tenant, account_id, kind, category, tor, destination,
         started_at, usage, cost_nano, currency, result_code, charged_nano)
       VALUES ('event:old', 'acme', 'alice', 'event', 'call', 'voice', 'UK_MOBILE', '2026-11-20T11:00:00Z',
               95000000000, 1, 'GBP', 2001, 1)`,
    );
    await rollupOnce(pool, schema);
    expect(await voiceQuantity('2026-11-20')).toBe('95000000190');

    await ensureRecordsSchema(pool, schema); // the next start
    const converted = await usageOf('event:old');
    expect(converted.u).toBe('95');
    await rollupOnce(pool, schema);
    expect(await voiceQuantity('2026-11-20')).toBe('285');

    const comment = await pool.query<{ c: string }>(
      `SELECT col_description($1::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'usage'`,
      [`${schema}.rated_records`],
    );
    expect(comment.rows[0]!.c).toBe(USAGE_COMMENT);

    await ensureRecordsSchema(pool, schema); // and the one after: nothing to do
    expect(await usageOf('event:old')).toEqual(converted);
    expect((await usageOf('event:call-e')).u).toBe('95');
  });

  it("converts an older version's outbox entry as the drain stores it", async () => {
    const rows = new RecordRows();
    const old = { record_id: 'event:queued', tenant: 'acme', account_id: 'alice', kind: 'event' };
    const rest = { category: 'call', tor: 'voice', destination: 'UK_MOBILE', cost_nano: 1, currency: 'GBP' };
    const row = { ...old, ...rest, started_at: '2026-11-20T12:00:00Z', usage: 95e9, result_code: 2001 };
    rows.addRated(JSON.stringify([{ ...row, close_cause: null, breakdown: null }]));
    await rows.insert(pool, schema);
    expect((await usageOf('event:queued')).u).toBe('95');
  });
});
