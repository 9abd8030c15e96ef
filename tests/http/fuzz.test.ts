/**
 * Malformed requests over EVERY route the app registers (read from app.routeTable, so a new route is
 * fuzzed without touching this file), with keys of each role, on the real Redis and PostgreSQL.
 * Every answer is below 500; every 4xx is problem+json with a `cause` and leaves every Redis key as it
 * was (dumped before and after each refused write); afterwards no balance of the seed has moved.
 *
 * Bodies start from a request each route would take and break one thing: a field replaced by a
 * number the engine cannot hold, a string where a number goes and back, null, an array, deep
 * nesting, a long or odd string; or the text itself: duplicate keys, truncation, nesting thousands
 * deep, over the body limit, not UTF-8, odd content types. Path parameters and queries get the same.
 *
 * The bases are chosen so that a request that happens to stay valid changes nothing either: events
 * ask a price (PRICE_ENQUIRY), sessions name an unknown subscriber, provisioning writes name an
 * account that does not exist or replay the seed's own reference.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore, type BalanceStore } from '../../src/balances/store.js';
import { createCdrJobs, ensureJobsSchema } from '../../src/cdr/jobs.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { DEMO_KEYS } from '../../src/config.js';
import { ensureEngineSchema } from '../../src/storage/schema.js';
import { secretBox } from '../../src/webhooks/secret-box.js';
import { randomBytes } from 'node:crypto';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { dumpKeys } from '../support/redis-dump.js';
import { onCluster, redisUrl, testRedis } from '../support/redis.js';
import { Redis } from 'ioredis';

/**
 * Its own Redis database (and a prefix in it), so dumping every key before and after each write
 * costs a millisecond instead of a scan of everyone's keys.
 */
const FUZZ_DB = 9;
const shared = testRedis();
const { prefix } = shared;
// A Cluster has one database: there the suite's client (its keys are deleted after the file).
const redis = onCluster
  ? shared.redis
  : new Redis(redisUrl(), { db: FUZZ_DB, maxRetriesPerRequest: 1, connectTimeout: 2000 });
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const KEYS = [
  ...DEMO_KEYS,
  { key: 'globex-billing', role: 'billing' as const, tenant: 'globex', name: 'globex billing' },
];
const KEY_OF_ROLE: Record<string, string> = {
  network: 'demo-network',
  billing: 'demo-billing',
  selfcare: 'demo-selfcare-alice',
  operator: 'demo-operator',
};
let app: FastifyInstance;
let store: BalanceStore;
const RUNS = 3000;

const ALICE = {
  tenant: 'acme',
  id: 'alice',
  type: 'prepaid' as const,
  currency: 'GBP',
  subject: 'alice',
  subscriptions: [{ type: 'msisdn', value: '447700900001' }],
};

beforeAll(async () => {
  await ensureEngineSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  await ensureJobsSchema(pool, schema);
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  const built = await testApp({
    redis,
    prefix,
    keys: KEYS,
    history: { pool, schema },
    // Every optional route family, as main.ts wires them: the fuzz reaches every route.
    billingRuns: { pool, schema, balances, now: Date.now, chunkSize: 100, zeroInvoices: false },
    documents: { pool, schema },
    webhooks: {
      pool,
      schema,
      box: secretBox(randomBytes(32)),
      policy: { allowHttp: false, allowPrivate: false },
    },
    payments: { pool, schema },
    vouchers: { pool, schema, plans: true },
    usage: { pool, schema, plans: true, invoices: true },
    plans: { pool, schema },
    notifications: { pool, schema },
    ledgerReports: { pool, schema },
    cgrates: { currency: 'GBP', store: { pool, schema } },
    cdrJobs: {
      jobs: createCdrJobs({
        pool,
        schema,
        balances: createBalanceStore({ redis, keyPrefix: prefix }),
        rating: () => rating,
      }),
      uploadDir: mkdtempSync(join(tmpdir(), 'fuzz-uploads-')),
    },
  });
  app = built.app;
  store = built.balances;
  await store.createAccount(ALICE, 'seed-alice');
  await store.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 5_000_000_000 }, 'seed-main');
  await store.addBalance(
    'acme',
    'alice',
    { id: 'data', unit: 'data', value: 1024 ** 3, weight: 10 },
    'seed-data',
  );
});
afterAll(async () => {
  await app.close();
  await rating.close();
  if (onCluster) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

// ---- values that break things ----

const BAD_NUMBERS = [4294967296, -1, 0.5, 1e308, -1e308, 2 ** 53 + 2, 1e21, 9007199254740991, -0];
/** Every one fails the id pattern (`^[A-Za-z0-9._:@+-]+$`), so no valid account or reference comes of it. */
const BAD_STRINGS = [
  '',
  ' ',
  '{{7*7}}',
  '1 000',
  '"\'`',
  '\u0000',
  '\u202e\u200b',
  'é',
  '😀',
  'x'.repeat(300) + ' ',
  'y'.repeat(5000) + '}',
  '😀'.repeat(100),
  'é'.repeat(200),
  '%zz',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '99999999999999999999999999999.99',
  '99999999999999999999',
  '1e308',
  'NaN',
  '-1',
  'null',
  'true',
  '2026-02-30T10:00:00Z ',
];
const oddString = fc.string({
  unit: fc.constantFrom(' ', '{', '}', '"', 'é', '\u0000', '😀', '%', '\\'),
  minLength: 1,
  maxLength: 40,
});
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};
const badValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...BAD_NUMBERS),
  fc.constantFrom(...BAD_STRINGS),
  oddString,
  fc.constantFrom(null, true, false, [], {}, [1, 2, 3], { x: 1 }),
  fc.double(),
  fc.integer({ min: -1e6, max: -1 }),
  fc.constantFrom(nested(10), nested(31), nested(40)),
  fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v !== 'string'),
);

// ---- request bodies: a base per route, broken one way ----

const at = '2026-11-20T10:10:00Z';
/** Requests each route would take; chosen so that one that stays valid changes nothing (see header). */
const BASES: Record<string, unknown> = {
  'POST /v1/events/:eventId': {
    requestedAction: 'PRICE_ENQUIRY',
    eventTime: at,
    serviceContextId: '32274@3gpp.org',
    subscriptionIds: [{ type: 'E164', data: '447700900001' }],
    serviceInformation: { sms: { recipients: ['447911123456'] } },
    mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
  },
  'POST /v1/sessions/:sessionId/initiate': {
    requestNumber: 0,
    eventTime: at,
    serviceContextId: '32260@3gpp.org',
    subscriptionIds: [{ type: 'E164', data: '447700999999' }],
    serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
    mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
  },
  'POST /v1/sessions/:sessionId/update': {
    requestNumber: 1,
    eventTime: at,
    mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: 50, reportingReason: 'THRESHOLD' }] }],
  },
  'POST /v1/sessions/:sessionId/terminate': {
    requestNumber: 2,
    eventTime: at,
    terminationCause: 'DIAMETER_LOGOUT',
    mscc: [{ ratingGroup: 100, used: [{ time: 47, inputOctets: 1, outputOctets: 2, totalOctets: 3 }] }],
  },
  'POST /v1/rating/price': {
    category: 'call',
    subject: 'x',
    destination: '+442071234567',
    answerTime: '2026-11-20T10:15:00Z',
    usage: 95,
    tor: 'voice',
  },
  // The seed's own create, same reference: valid, it is a replay.
  'POST /v1/accounts': (({ tenant: _t, ...a }) => ({ ...a, reference: 'seed-alice' }))(ALICE),
  'PATCH /v1/accounts/:accountId': { status: 'active', creditLimit: '10.5', subject: 's', reference: 'fz-r' },
  'POST /v1/accounts/:accountId/subscriptions': { type: 'msisdn', value: '447700100098', reference: 'fz-r' },
  'POST /v1/accounts/:accountId/balances': {
    id: 'fz',
    unit: 'money',
    value: '1.5',
    weight: 1,
    ratingGroups: [1],
    destinations: ['UK'],
    expiry: '2027-01-01T00:00:00Z',
    reference: 'fz-r',
  },
  'PATCH /v1/accounts/:accountId/balances/:balanceId': { weight: 1, reference: 'fz-r' },
  'POST /v1/accounts/:accountId/credits': {
    balanceId: 'main',
    amount: '1',
    kind: 'topup',
    reference: 'fz-r',
  },
  'POST /v1/accounts/:accountId/debits': { amount: '1', reference: 'fz-r' },
  // Billing: writes name an account that does not exist (path segments of writes are never alice).
  'POST /v1/accounts/:accountId/payments': {
    reference: 'fz-r',
    amount: '1.00',
    currency: 'GBP',
    method: 'card',
  },
  'POST /v1/accounts/:accountId/vouchers/redeem': { pin: '1234567812345678', reference: 'fz-r' },
  'POST /v1/accounts/:accountId/plans': { plan: 'fz', reference: 'fz-r' },
  'POST /v1/webhooks': { url: 'https://example.com/hook', eventTypes: ['invoice.paid'], reference: 'fz-r' },
  'POST /v1/billing/runs': { asOf: '2099-01-01T00:00:00Z', reference: 'fz-r' },
  'POST /jsonrpc': { method: 'APIerSv2.GetAccount', params: [{ Tenant: 'acme', Account: 'alice' }], id: 1 },
};

/** Every path into a value ([] is the value itself). */
function pathsOf(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (v && typeof v === 'object')
    for (const [k, child] of Object.entries(v))
      out.push(...pathsOf(child, [...at, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function withChange(base: unknown, path: (string | number)[], change: (old: unknown) => unknown): unknown {
  if (path.length === 0) return change(base);
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const next = change(parent[last]);
  if (next === undefined) delete parent[last];
  else parent[last] = next;
  return copy;
}

const change: fc.Arbitrary<(old: unknown) => unknown> = fc.oneof(
  badValue.map((v) => () => v),
  fc.constant(() => undefined), // a field left out
  fc.constant((old: unknown) => [old]),
  fc.constant((old: unknown) =>
    typeof old === 'number' ? String(old) : typeof old === 'string' ? Number(old) || 7 : old,
  ),
  fc.constant((old: unknown) => ({ ...(old as object), extra: 1 })),
);

/** One field of the base broken, as JSON text. */
const brokenField = (base: unknown) =>
  fc
    .tuple(fc.constantFrom(...pathsOf(base)), change)
    .map(([p, c]) => JSON.stringify(withChange(base, p, c) ?? null));

/** The text itself broken. */
const brokenText = (base: unknown) => {
  const text = JSON.stringify(base);
  return fc.oneof(
    // Duplicate keys: JSON.parse keeps the last, so the base's value wins.
    fc
      .tuple(fc.constantFrom(...Object.keys(base as object)), badValue)
      .map(([k, v]) => `{${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'},${text.slice(1)}`),
    fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n)),
    fc.constantFrom(33, 1000, 15_000).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.constantFrom(33, 500).map((n) => `${text.slice(0, -1)},"deep":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
    fc.constant(`{"s":"${'z'.repeat(200_000)}"}`),
    fc.constant(`\ufeff${text}`),
    fc.constantFrom(
      '',
      'null',
      '[]',
      '"x"',
      '1e999',
      '-0',
      '{"__proto__":{"a":1}}',
      '{"constructor":{"prototype":{}}}',
    ),
  );
};

const OVER_LIMIT = `{"s":"${'o'.repeat(1024 * 1024 + 10)}"}`;
const NOT_UTF8 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]);

const bodyFor = (key: string): fc.Arbitrary<string | Buffer> => {
  const base = BASES[key] ?? { reference: 'fz-r' }; // routes that take no body
  return fc.oneof(
    { weight: 6, arbitrary: brokenField(base) },
    { weight: 3, arbitrary: brokenText(base) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom<string | Buffer>(OVER_LIMIT, NOT_UTF8) },
  );
};

// ---- the rest of the request ----

// CDR media types (text/csv, application/gzip, application/octet-stream) are left out on purpose: with
// them a CDR upload is a well-formed request that starts an import (tests/http/cdr-jobs.test.ts).
const CONTENT_TYPES = [
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'application/json;charset=',
  'APPLICATION/JSON',
  'application/problem+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
  ';;;',
];
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
);

/** Path segments: unknown ids, ids no schema takes, bad escapes; `alice` only where nothing is written. */
const segment = (writes: boolean) =>
  fc.oneof(
    fc.constantFrom(
      'ghost',
      'fz-1',
      'main',
      'msisdn',
      '447700900001',
      '00000000-0000-4000-8000-000000000000',
    ),
    fc.constantFrom(...(writes ? ['ghost'] : ['alice'])),
    fc.constantFrom(
      '%zz',
      '%',
      '%E0%A4%A',
      '%F0%9F%98%80',
      '%2F',
      '..',
      '%7B%7B7*7%7D%7D',
      '1%20000',
      '%22%27',
      '%00',
    ),
    fc.constantFrom('a'.repeat(257), 'b'.repeat(1100), `tas;${'c'.repeat(250)}`),
    oddString.map(encodeURIComponent),
  );
const QUERIES = [
  '',
  '',
  '',
  `?limit=${'9'.repeat(400)}`,
  '?limit=-1',
  '?limit=1&limit=2',
  '?limit=1e400',
  '?a[b]=1',
  '?%zz',
  '?reference=%7B%7D',
  '?reference=fz-r',
  '?__proto__[admin]=1',
  '?constructor[prototype][x]=1',
];

const keyFor = (roles: readonly string[] | undefined) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...(roles ?? ['billing']).map((r) => KEY_OF_ROLE[r]!)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('demo-network', 'demo-billing', 'demo-selfcare-alice', 'globex-billing'),
    },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'nope', '') },
  );

/**
 * Routes whose refusals may write to Redis: only voucher redemption, whose wrong PIN counts a failure
 * on purpose (5 in 15 minutes lock the account and the key out: docs/VOUCHERS.md).
 */
const KNOWN_WRITES_ON_REFUSAL: readonly RegExp[] = [/^POST \/v1\/(accounts\/[^/]+|me)\/vouchers\/redeem/];

const HAS_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function requestFor(route: {
  method: string;
  url: string;
  roles?: readonly string[];
}): fc.Arbitrary<InjectOptions> {
  const writes = route.method !== 'GET' && route.method !== 'HEAD';
  const params = route.url.match(/:[^/]+/g) ?? [];
  const key = `${route.method} ${route.url}`;
  return fc
    .record({
      segments: fc.tuple(...params.map(() => segment(writes))),
      query: fc.constantFrom(...QUERIES),
      apiKey: keyFor(route.roles),
      body: HAS_BODY.has(route.method) ? fc.option(bodyFor(key), { freq: 8 }) : fc.constant(null),
      type: contentType,
    })
    .map(({ segments, query, apiKey, body, type }) => {
      let i = 0;
      const url = route.url.replace(/:[^/]+/g, () => segments[i++]!).replace('*', 'x') + query;
      const headers: Record<string, string> = {};
      if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
      if (body !== null && type !== undefined) headers['content-type'] = type;
      return {
        method: route.method as InjectOptions['method'],
        url,
        headers,
        ...(body !== null ? { payload: body } : {}),
      };
    });
}

function describeAnswer(req: InjectOptions, status: number, body: string): string {
  const payload = req.payload === undefined ? '' : String(req.payload).slice(0, 200);
  return `${req.method} ${String(req.url).slice(0, 120)} ${JSON.stringify(req.headers)} ${payload} -> ${status} ${body.slice(0, 300)}`;
}

describe('malformed requests over every route', () => {
  it('are answered below 500, 4xx as problem+json with a cause, and change nothing', async () => {
    const routes = app.routeTable.filter((r) => r.method !== 'OPTIONS');
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining(['POST /v1/events/:eventId', 'POST /v1/accounts', 'POST /v1/cdr/jobs']),
    );
    const aliceBefore = await store.getAccount('acme', 'alice');
    const statuses = new Map<number, number>();
    // The API's own routes three times as often as docs, health and metrics.
    const arbitrary = fc.oneof(...routes.map((r) => ({ weight: r.roles ? 3 : 1, arbitrary: requestFor(r) })));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (req) => {
        const line = `${req.method} ${String(req.url)}`;
        const writes =
          req.method !== 'GET' && req.method !== 'HEAD' && !KNOWN_WRITES_ON_REFUSAL.some((k) => k.test(line));
        const before = writes ? await dumpKeys(redis, prefix) : undefined;
        const r = await app.inject(req);
        statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
        const what = describeAnswer(req, r.statusCode, r.body);
        expect(r.statusCode, what).toBeLessThan(500);
        if (String(req.url).startsWith('/jsonrpc')) {
          // CGRateS's protocol: refusals are JSON-RPC errors with its error strings, never SERVER_ERROR;
          // what the framework refuses before the method runs (media type, size) is problem+json.
          const problem = String(r.headers['content-type']).includes('application/problem+json');
          const answer = req.method === 'HEAD' ? null : r.json<{ error?: unknown; cause?: unknown }>();
          if (answer?.error != null) expect(String(answer.error), what).not.toMatch(/SERVER_ERROR/);
          if (r.statusCode < 400) return;
          if (answer) expect(typeof (problem ? answer.cause : answer.error), what).toBe('string');
          if (before) expect(await dumpKeys(redis, prefix), what).toEqual(before);
          return;
        }
        if (r.statusCode < 400) return; // processed (a price, an unknown subscriber, a replay): may write
        expect(r.headers['content-type'], what).toContain('application/problem+json');
        if (req.method !== 'HEAD') {
          const p = r.json<{ cause?: unknown; status?: unknown }>();
          expect(typeof p.cause, what).toBe('string');
          expect(p.status, what).toBe(r.statusCode);
        }
        if (before) expect(await dumpKeys(redis, prefix), what).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    expect(await store.getAccount('acme', 'alice')).toEqual(aliceBefore);
    // The fuzz reached the routes' code, not only the schemas: some answers were processed.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    console.log('fuzz answers by status', Object.fromEntries([...statuses].sort()));
  });
});
