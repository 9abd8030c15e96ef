/**
 * Tenancy, route family by route family: a key of tenant `globex` can neither read nor change nor
 * charge anything of tenant `acme`. Both tenants have accounts with the same ids and the same
 * msisdns, so a lookup that forgot the tenant would show. After every attempt, acme's Redis keys
 * (dumped byte for byte) and acme's PostgreSQL rows are what they were.
 *
 * What a foreign id gets: 404, the same answer as an id that never existed (an existence oracle
 * would tell one tenant the other's session, event, account or job ids). A key calling a route its
 * role may not call gets 403 before any lookup, so that is no oracle either; nor is a self-care
 * key's 403 for another account (given whether or not that account exists).
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore, type BalanceStore } from '../../src/balances/store.js';
import { createCdrJobs, ensureJobsSchema } from '../../src/cdr/jobs.js';
import { createRatingPool, type RatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import type { ApiKey } from '../../src/config.js';
import { nanoToDecimal } from '../../src/rating/money.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { scanKeys, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let store: BalanceStore;
let rating: RatingPool | undefined;

const KEYS: ApiKey[] = [
  ...['acme', 'globex'].flatMap((tenant): ApiKey[] => [
    { key: `${tenant}-billing`, role: 'billing', tenant },
    { key: `${tenant}-network`, role: 'network', tenant },
    { key: `${tenant}-alice`, role: 'selfcare', tenant, accountId: 'alice' },
  ]),
  { key: 'operator', role: 'operator', tenant: 'acme' },
];
const as = (key: string) => ({ authorization: `Bearer ${key}` });

const ALICE_MSISDN = '447700900001'; // alice's number in both tenants
const CAROL_MSISDN = '447700900003'; // carol exists in acme only
const ACME_JOB = '3f1a7c52-9a43-4c2e-8a53-2d9b1f0e6a11';
const NEVER_JOB = '00000000-0000-4000-8000-000000000000';

const sessionBody = (requestNumber: number, msisdn = ALICE_MSISDN) => ({
  requestNumber,
  eventTime: '2026-11-20T10:00:00Z',
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
  mscc: [
    { ratingGroup: 100, requested: { time: 60 }, ...(requestNumber > 0 ? { used: [{ time: 30 }] } : {}) },
  ],
});
const smsBody = (msisdn = ALICE_MSISDN) => ({
  requestedAction: 'DIRECT_DEBITING',
  eventTime: '2026-11-20T10:10:00Z',
  serviceContextId: '32274@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { sms: { recipients: ['447911123456'] } },
  mscc: [{ ratingGroup: 300 }],
});

/** The sample tariff with every acme profile copied for globex, so both tenants can be charged. */
async function twoTenantTariff(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tenancy-tariff-'));
  await cp('tariffs/sample', dir, { recursive: true });
  const file = join(dir, 'tariff.json');
  const plan = JSON.parse(await readFile(file, 'utf8')) as { ratingProfiles: { tenant: string }[] };
  plan.ratingProfiles.push(...plan.ratingProfiles.map((p) => ({ ...p, tenant: 'globex' })));
  await writeFile(file, JSON.stringify(plan));
  return dir;
}

async function account(tenant: string, id: string, msisdn: string, valueNano: number) {
  const acct = { tenant, id, type: 'prepaid' as const, currency: 'GBP', subject: id };
  await store.createAccount({ ...acct, subscriptions: [{ type: 'msisdn', value: msisdn }] }, `c-${id}`);
  await store.addBalance(tenant, id, { id: 'main', unit: 'money', value: valueNano }, `b-${id}`);
}

/** alice's money in a tenant, as the API writes it. */
async function money(tenant: string): Promise<string> {
  return nanoToDecimal((await store.getAccount(tenant, 'alice'))!.balances[0]!.value);
}

const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix });

async function send(key: string, method: InjectOptions['method'], url: string, payload?: object) {
  return app.inject({ method, url, headers: as(key), ...(payload ? { payload } : {}) });
}

beforeAll(async () => {
  await ensureRecordsSchema(pool, schema);
  await ensureLedgerSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureJobsSchema(pool, schema);
  const tariffDir = await twoTenantTariff();
  const jobs = createCdrJobs({
    pool,
    schema,
    balances: createBalanceStore({ redis, keyPrefix: prefix }),
    // Made on first use, as in main.ts: workers start only if a job runs (none should here).
    rating: () => (rating ??= createRatingPool({ tariffDir, threads: 1 })),
  });
  ({ app, balances: store } = await testApp({
    redis,
    prefix,
    tariffDir,
    keys: KEYS,
    history: { pool, schema },
    cdrJobs: { jobs, uploadDir: await mkdtemp(join(tmpdir(), 'tenancy-uploads-')) },
  }));

  for (const tenant of ['acme', 'globex']) {
    // Different money in each, so a read of the wrong one shows.
    await account(tenant, 'alice', ALICE_MSISDN, tenant === 'acme' ? 10e9 : 20e9);
    await account(tenant, 'bob', '447700900002', 5e9);
  }
  await account('acme', 'carol', CAROL_MSISDN, 7e9);

  // acme's activity: a closed session, an open one, an event; a CDR job that failed.
  const net = 'acme-network';
  expect((await send(net, 'POST', '/v1/sessions/call-0/initiate', sessionBody(0))).statusCode).toBe(200);
  expect((await send(net, 'POST', '/v1/sessions/call-0/terminate', sessionBody(1))).statusCode).toBe(200);
  expect((await send(net, 'POST', '/v1/sessions/call-1/initiate', sessionBody(0))).statusCode).toBe(200);
  expect((await send(net, 'POST', '/v1/events/sms-1', smsBody())).statusCode).toBe(200);
  await pool.query(
    `INSERT INTO ${schema}.cdr_jobs (id, tenant, file, status, error) VALUES ($1, 'acme', $2, 'failed', 'test')`,
    [ACME_JOB, 'cdr-samples/acme-2026-11-20.csv'],
  );
  // globex's own event, so "globex sees only its own" has something to see.
  expect((await send('globex-network', 'POST', '/v1/events/g-sms-1', smsBody())).statusCode).toBe(200);
  expect(await drain()).toBeGreaterThan(0);
});
afterAll(async () => {
  await app.close();
  await rating?.close();
});

/** Every acme key under the test prefix, dumped (value, not TTL), in name order. */
async function acmeRedis(): Promise<[string, string][]> {
  const keys = await scanKeys(redis, `${prefix}*acme*`); // sorted; every master's, on a Cluster
  const dumps = await Promise.all(keys.map((k) => redis.dumpBuffer(k)));
  return keys.map((k, i) => [k, dumps[i]?.toString('hex') ?? 'gone']);
}

/** acme's rows in every table that has a tenant; the CDR tables (no tenant column) whole. */
async function acmeRows(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pool.query<{ table_name: string; tenant: boolean }>(
    `SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema
            AND c.table_name = t.table_name AND c.column_name = 'tenant') AS tenant
       FROM information_schema.tables t WHERE t.table_schema = $1 ORDER BY 1`,
    [schema],
  );
  for (const { table_name: name, tenant } of tables.rows) {
    const r = await pool.query<{ rows: string | null }>(
      `SELECT string_agg(x::text, E'\\n' ORDER BY x::text) AS rows FROM ${schema}.${name} x
        ${tenant ? `WHERE tenant = 'acme'` : ''}`,
    );
    out[name] = r.rows[0]?.rows ?? '';
  }
  return out;
}

/**
 * Runs an attempt, drains the outboxes (so anything written reaches PostgreSQL too) and checks
 * that acme's Redis keys and rows did not move.
 */
async function leavesAcmeAlone<T>(attempt: () => Promise<T>): Promise<T> {
  const [redisBefore, rowsBefore] = [await acmeRedis(), await acmeRows()];
  expect(redisBefore.length).toBeGreaterThan(5);
  const out = await attempt();
  await drain();
  expect(await acmeRedis()).toEqual(redisBefore);
  expect(await acmeRows()).toEqual(rowsBefore);
  return out;
}

/** The parts of a problem that must not differ between a foreign id and one that never existed. */
function problemOf(r: Awaited<ReturnType<typeof send>>, id: string, never: string) {
  const p = r.json() as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.replaceAll(id, never) : v);
  return { status: r.statusCode, cause: p.cause, title: p.title, detail: text(p.detail) };
}

type Method = InjectOptions['method'];
type Attempt = [name: string, key: string, method: Method, url: string, payload?: object];

describe('a foreign id answers exactly as an id that never existed: 404, nothing changed', () => {
  const foreign: Attempt[] = [
    // accounts: carol is acme's only
    ['read an account', 'globex-billing', 'GET', '/v1/accounts/carol'],
    [
      'update an account',
      'globex-billing',
      'PATCH',
      '/v1/accounts/carol',
      { status: 'closed', reference: 'x1' },
    ],
    [
      'add a balance',
      'globex-billing',
      'POST',
      '/v1/accounts/carol/balances',
      { id: 'b2', unit: 'money', value: '5', reference: 'x5' },
    ],
    [
      'change a balance',
      'globex-billing',
      'PATCH',
      '/v1/accounts/carol/balances/main',
      { weight: 9, reference: 'x2' },
    ],
    ['remove a balance', 'globex-billing', 'DELETE', '/v1/accounts/carol/balances/main?reference=x6'],
    [
      'credit',
      'globex-billing',
      'POST',
      '/v1/accounts/carol/credits',
      { balanceId: 'main', amount: '5', reference: 'x3' },
    ],
    ['debit', 'globex-billing', 'POST', '/v1/accounts/carol/debits', { amount: '5', reference: 'x4' }],
    [
      'subscribe',
      'globex-billing',
      'POST',
      '/v1/accounts/carol/subscriptions',
      { type: 'msisdn', value: '447700900099', reference: 'x7' },
    ],
    [
      'unsubscribe',
      'globex-billing',
      'DELETE',
      `/v1/accounts/carol/subscriptions/msisdn/${CAROL_MSISDN}?reference=x8`,
    ],
    // sessions: call-1 is acme's open session
    ['read a session (network)', 'globex-network', 'GET', '/v1/sessions/call-1'],
    ['read a session (billing)', 'globex-billing', 'GET', '/v1/sessions/call-1'],
    ['update a session', 'globex-network', 'POST', '/v1/sessions/call-1/update', sessionBody(1)],
    ['terminate a session', 'globex-network', 'POST', '/v1/sessions/call-1/terminate', sessionBody(1)],
    // trails
    ['a session trail', 'globex-billing', 'GET', '/v1/sessions/call-0/trail'],
    ['an event trail', 'globex-billing', 'GET', '/v1/events/sms-1/trail'],
    // CDR jobs (the upload of rows naming another tenant is covered with the CDR jobs)
    ['read a CDR job', 'globex-billing', 'GET', `/v1/cdr/jobs/${ACME_JOB}`],
    ['resume a CDR job', 'globex-billing', 'POST', `/v1/cdr/jobs/${ACME_JOB}/resume`],
  ];
  it.each(foreign)('%s', async (_name, key, method, url, payload) => {
    const r = await leavesAcmeAlone(() => send(key, method, url, payload));
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toContain('application/problem+json');
    // The same request on an id nobody has gets the same answer.
    const id = url.includes(ACME_JOB) ? ACME_JOB : url.includes('carol') ? 'carol' : url.split('/')[3]!;
    const never = id === ACME_JOB ? NEVER_JOB : `never-${id}`;
    const other = await send(key, method, url.replace(id, never), payload);
    expect(problemOf(r, id, never)).toEqual(problemOf(other, never, never));
  });

  it('a wildcard in a trail id matches no other session: LIKE patterns are not ids', async () => {
    // "%" and "_" are printable ids; they must not match call-0's records (acme's own key, even).
    for (const id of ['%25', 'call_0', 'call%25'])
      expect((await send('acme-billing', 'GET', `/v1/sessions/${id}/trail`)).statusCode, id).toBe(404);
    expect((await send('acme-billing', 'GET', '/v1/sessions/call-0/trail')).statusCode).toBe(200);
  });
});

describe('the same ids in another tenant are that tenant’s own', () => {
  it("reads globex's alice, never acme's", async () => {
    const r = await leavesAcmeAlone(() => send('globex-billing', 'GET', '/v1/accounts/alice'));
    expect(r.json().balances).toEqual([
      expect.objectContaining({ id: 'main', value: await money('globex') }),
    ]);
    expect(await money('globex')).not.toBe(await money('acme'));
  });

  it('a usage list holds only the caller tenant’s records', async () => {
    const usage = async (key: string, id: string) =>
      (await send(key, 'GET', `/v1/accounts/${id}/usage`))
        .json()
        .usage.map((u: { recordId: string }) => u.recordId);
    expect(await usage('globex-billing', 'alice')).toEqual(['event:g-sms-1']);
    expect(await usage('acme-billing', 'alice')).toEqual(['event:sms-1', 'session:call-0:100']);
    // An account of another tenant lists nothing, like an account nobody has.
    expect(await usage('globex-billing', 'carol')).toEqual([]);
  });

  it("charging acme's event id as globex charges globex's alice afresh, not a replay of acme's answer", async () => {
    const before = (await store.getAccount('globex', 'alice'))!.balances[0]!.value;
    const r = await leavesAcmeAlone(() => send('globex-network', 'POST', '/v1/events/sms-1', smsBody()));
    expect(r.statusCode).toBe(200);
    expect(r.headers['idempotent-replayed']).toBeUndefined();
    expect(r.json().resultCode).toBe(2001);
    expect((await store.getAccount('globex', 'alice'))!.balances[0]!.value).toBeLessThan(before);
  });

  it('the same event id charged in both tenants and drained together keeps both records', async () => {
    for (const key of ['acme-network', 'globex-network'])
      expect((await send(key, 'POST', '/v1/events/both-1', smsBody())).json().resultCode).toBe(2001);
    await drain();
    const r = await pool.query(
      `SELECT tenant, account_id, cost_nano::text FROM ${schema}.rated_records WHERE record_id = 'event:both-1' ORDER BY 1`,
    );
    expect(r.rows).toEqual([
      { tenant: 'acme', account_id: 'alice', cost_nano: '40000000' },
      { tenant: 'globex', account_id: 'alice', cost_nano: '40000000' },
    ]);
  });

  it('a number only acme has is an unknown subscriber to globex, for events and sessions', async () => {
    const ev = await leavesAcmeAlone(() =>
      send('globex-network', 'POST', '/v1/events/g-carol', smsBody(CAROL_MSISDN)),
    );
    expect(ev.json().resultCode).toBe(5030);
    const s = await leavesAcmeAlone(() =>
      send('globex-network', 'POST', '/v1/sessions/g-carol/initiate', sessionBody(0, CAROL_MSISDN)),
    );
    expect(s.json().resultCode).toBe(5030);
  });

  it("opening acme's session id as globex opens globex's own session", async () => {
    const r = await leavesAcmeAlone(() =>
      send('globex-network', 'POST', '/v1/sessions/call-1/initiate', sessionBody(0)),
    );
    expect(r.statusCode).toBe(200);
    expect(r.headers['idempotent-replayed']).toBeUndefined();
    expect((await send('globex-network', 'GET', '/v1/sessions/call-1')).statusCode).toBe(200);
    await leavesAcmeAlone(() =>
      send('globex-network', 'POST', '/v1/sessions/call-1/terminate', sessionBody(1)),
    );
  });
});

describe('rating and the tariff', () => {
  const price = (tenant?: string) => ({
    ...(tenant ? { tenant } : {}),
    category: 'call',
    subject: 'x',
    destination: '+447911123456',
    answerTime: '2026-11-20T10:15:00Z',
    usage: 60,
    tor: 'voice',
  });
  it.each(['globex-billing', 'globex-network'])('%s may not price as acme (403)', async (key) => {
    const r = await send(key, 'POST', '/v1/rating/price', price('acme'));
    expect(r.statusCode).toBe(403);
    expect(r.json().cause).toBe('FORBIDDEN');
    expect((await send(key, 'POST', '/v1/rating/price', price())).statusCode).toBe(200);
  });

  it('the tariff is the operator’s, shared by every tenant: no tenant key reads or reloads it; the operator’s reload moves no account', async () => {
    await leavesAcmeAlone(async () => {
      for (const key of ['globex-billing', 'globex-network', 'globex-alice']) {
        expect((await send(key, 'POST', '/v1/tariff/reload')).statusCode).toBe(403);
        expect((await send(key, 'GET', '/v1/tariff')).statusCode).toBe(403);
      }
      expect((await send('operator', 'POST', '/v1/tariff/reload')).statusCode).toBe(200);
    });
  });
});

describe('roles', () => {
  const billingRoutes: Attempt[] = [
    [
      'create an account',
      '',
      'POST',
      '/v1/accounts',
      { id: 'z', type: 'prepaid', currency: 'GBP', subject: 'z' },
    ],
    ['update', '', 'PATCH', '/v1/accounts/alice', { status: 'active', reference: 'r' }],
    [
      'add a balance',
      '',
      'POST',
      '/v1/accounts/alice/balances',
      { id: 'b2', unit: 'money', value: '5', reference: 'x5' },
    ],
    ['change a balance', '', 'PATCH', '/v1/accounts/alice/balances/main', { weight: 1, reference: 'r' }],
    ['remove a balance', '', 'DELETE', '/v1/accounts/alice/balances/main'],
    ['credit', '', 'POST', '/v1/accounts/alice/credits', { balanceId: 'main', amount: '5', reference: 'r' }],
    ['debit', '', 'POST', '/v1/accounts/alice/debits', { amount: '5', reference: 'r' }],
    ['subscribe', '', 'POST', '/v1/accounts/alice/subscriptions', { type: 'msisdn', value: '447700900098' }],
    ['unsubscribe', '', 'DELETE', `/v1/accounts/alice/subscriptions/msisdn/${ALICE_MSISDN}`],
    ['a session trail', '', 'GET', '/v1/sessions/call-0/trail'],
    ['an event trail', '', 'GET', '/v1/events/sms-1/trail'],
    ['the tariff', '', 'GET', '/v1/tariff'],
    ['reload the tariff', '', 'POST', '/v1/tariff/reload'],
    ['read a CDR job', '', 'GET', `/v1/cdr/jobs/${ACME_JOB}`],
    ['resume a CDR job', '', 'POST', `/v1/cdr/jobs/${ACME_JOB}/resume`],
  ];
  const networkRoutes: Attempt[] = [
    ['charge an event', '', 'POST', '/v1/events/sc-1', smsBody()],
    ['open a session', '', 'POST', '/v1/sessions/sc-1/initiate', sessionBody(0)],
    ['update a session', '', 'POST', '/v1/sessions/call-1/update', sessionBody(1)],
    ['terminate a session', '', 'POST', '/v1/sessions/call-1/terminate', sessionBody(1)],
    ['read a session', '', 'GET', '/v1/sessions/call-1'],
    [
      'price',
      '',
      'POST',
      '/v1/rating/price',
      {
        category: 'call',
        subject: 'x',
        destination: '+44',
        answerTime: '2026-11-20T10:15:00Z',
        usage: 1,
        tor: 'voice',
      },
    ],
  ];
  const forbidden = (key: string, routes: Attempt[]) =>
    routes.map(([name, , method, url, payload]): Attempt => [name, key, method, url, payload]);

  it.each([
    ...forbidden('acme-alice', billingRoutes),
    ...forbidden('acme-alice', networkRoutes),
    ...forbidden('acme-network', billingRoutes),
    ...forbidden('acme-billing', networkRoutes.slice(0, 4)),
  ])('%s: %s gets 403 and changes nothing', async (_name, key, method, url, payload) => {
    const r = await leavesAcmeAlone(() => send(key, method, url, payload));
    expect(r.statusCode).toBe(403);
    expect(r.json().cause).toBe('FORBIDDEN');
  });

  it('a self-care key reads its own account in its own tenant, and no other', async () => {
    const seen = async (key: string, url: string) => (await send(key, 'GET', url)).json().balances[0].value;
    expect(await seen('globex-alice', '/v1/me')).toBe(await money('globex'));
    expect(await seen('globex-alice', '/v1/accounts/alice')).toBe(await money('globex'));
    expect(await seen('acme-alice', '/v1/accounts/alice')).toBe(await money('acme'));
    // Another account, existing or not: 403 before any lookup.
    for (const url of [
      '/v1/accounts/bob',
      '/v1/accounts/carol',
      '/v1/accounts/nobody',
      '/v1/accounts/bob/usage',
    ])
      expect((await send('globex-alice', 'GET', url)).statusCode, url).toBe(403);
    const usage = (await send('globex-alice', 'GET', '/v1/accounts/alice/usage')).json().usage;
    // Exactly globex's alice's records (some under ids acme uses too), none of acme's.
    const own = await pool.query<{ record_id: string }>(
      `SELECT record_id FROM ${schema}.rated_records WHERE tenant = 'globex' AND account_id = 'alice'
        ORDER BY started_at DESC, record_id`,
    );
    expect(usage.map((u: { recordId: string }) => u.recordId)).toEqual(own.rows.map((r) => r.record_id));
    expect(own.rows.length).toBeGreaterThan(2);
  });
});

describe('rated records are keyed by tenant', () => {
  it('an older table keyed by record id alone is re-keyed, keeping its rows', async () => {
    const old = `${schema}_old`;
    await pool.query(`CREATE SCHEMA ${old}`);
    try {
      await pool.query(`CREATE TABLE ${old}.rated_records (record_id text PRIMARY KEY, tenant text NOT NULL,
        account_id text NOT NULL, kind text NOT NULL, category text NOT NULL, tor text NOT NULL, destination text NOT NULL,
        started_at timestamptz NOT NULL, usage bigint NOT NULL, cost_nano bigint NOT NULL, currency text NOT NULL,
        result_code int NOT NULL, close_cause text, breakdown json, stored_at timestamptz NOT NULL DEFAULT now())`);
      await pool.query(
        `INSERT INTO ${old}.rated_records VALUES ('event:e', 'acme', 'a', 'event', 'sms', 'sms', 'D', now(), 1, 5, 'GBP', 2001, null, null)`,
      );
      for (let run = 0; run < 2; run++) await ensureRecordsSchema(pool, old);
      const pk = await pool.query<{ def: string }>(
        `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.contype = 'p' AND c.conrelid = $1::regclass`,
        [`${old}.rated_records`],
      );
      expect(pk.rows[0]?.def).toBe('PRIMARY KEY (tenant, record_id)');
      expect((await pool.query(`SELECT record_id FROM ${old}.rated_records`)).rows).toEqual([
        { record_id: 'event:e' },
      ]);
    } finally {
      await pool.query(`DROP SCHEMA ${old} CASCADE`);
    }
  });
});
