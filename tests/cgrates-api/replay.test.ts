/**
 * Replays request/response pairs taken from public CGRateS clients and CGRateS's own integration
 * tests (tests/fixtures/cgrates-api/*.json, each naming its source) through POST /jsonrpc, in order,
 * and compares each reply with the recorded one field by field. The only normalisations are the
 * ones a fixture names per field (fixtures/cgrates-api/README.md):
 *   "uuid"  any non-empty string (ids CGRateS or the engine generate)
 *   "time"  any RFC 3339 time (UpdateTime, times of "now")
 *   "error" any non-empty error string (the source asserts only that there is an error)
 * A reply that differs by design says so in `differs` (matching docs/CGRATES-COMPAT.md) and gives
 * the engine's reply in `ours`, which is then what is compared, so the difference stays pinned.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/config.js';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

type Rule = 'uuid' | 'time' | 'error';

interface Exchange {
  /** Who calls: billing (default), network or operator, with a key of the fixtures' tenant. */
  role?: 'billing' | 'network' | 'operator';
  /** Why this call is here when it is not itself from the source (e.g. the source's setup). */
  setup?: string;
  request: { method: string; params?: unknown; id?: unknown; jsonrpc?: string };
  response: { id?: unknown; result: unknown; error: string | null };
  /** Field path ("result.BalanceMap.*monetary.[].Uuid", "[]" = every element) -> rule. */
  normalise?: Record<string, Rule>;
  differs?: string;
  ours?: { result: unknown; error: string | null };
  /** Move what the engine wrote to PostgreSQL first (CDR reads). */
  drainFirst?: boolean;
}

interface Fixture {
  source: { repo: string; path: string; commit?: string; what: string };
  note?: string;
  exchanges: Exchange[];
}

const DIR = 'tests/fixtures/cgrates-api';
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture] as const);

const TENANT = 'cgrates.org';
const KEYS = {
  billing: { key: 'replay-billing', role: 'billing' as const, tenant: TENANT, name: 'replay billing' },
  network: { key: 'replay-network', role: 'network' as const, tenant: TENANT, name: 'replay network' },
  operator: { key: 'replay-operator', role: 'operator' as const, tenant: TENANT, name: 'replay operator' },
};
const NOW = Date.parse('2026-11-20T10:15:00Z');

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let tariffDir = '';

/**
 * The sources run against CGRateS's tenant cgrates.org and their own plans: here the CGRateS-format
 * sample tariff (tariffs/sample-cgrates) with its rating profiles under cgrates.org and active from
 * 2010 (the sessions test's calls are of 2016). Prices are this tariff's, not the sources'.
 */
async function fixturesTariff(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cgr-replay-'));
  await cp('tariffs/sample-cgrates', dir, { recursive: true });
  const profiles = join(dir, 'RatingProfiles.csv');
  const csv = await readFile(profiles, 'utf8');
  await writeFile(
    profiles,
    csv.replace(/^acme,/gm, 'cgrates.org,').replace(/2026-01-01T00:00:00Z/g, '2010-01-01T00:00:00Z'),
  );
  return dir;
}

beforeAll(async () => {
  tariffDir = await fixturesTariff();
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureCdrSchema(pool, schema);
  ({ app } = await testApp({
    redis,
    prefix,
    tariffDir,
    keys: [...DEMO_KEYS, ...Object.values(KEYS)],
    now: () => NOW,
    cgrates: { currency: 'EUR', now: () => NOW, store: { pool, schema } },
  }));
});
afterAll(async () => {
  await app.close();
  await rm(tariffDir, { recursive: true, force: true });
});

/** RFC 3339 as Go's time.Time writes it: a fraction only as long as it needs (never ".000Z"). */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?(Z|[+-]\d\d:\d\d)$/;

/** Replaces, in both values, each normalised field by a marker once the actual one passes its rule. */
function normalised(actual: unknown, expected: unknown, rules: Record<string, Rule>) {
  const a = structuredClone(actual) as Record<string, unknown>;
  const e = structuredClone(expected) as Record<string, unknown>;
  for (const [path, rule] of Object.entries(rules)) {
    visit(a, path.split('.'), (v) => {
      const ok =
        rule === 'time' ? typeof v === 'string' && RFC3339.test(v) : typeof v === 'string' && v.length > 0;
      return ok ? `<${rule}>` : v;
    });
    visit(e, path.split('.'), () => `<${rule}>`);
  }
  return { a, e };
}

function visit(node: unknown, path: string[], f: (v: unknown) => unknown): void {
  if (node === null || typeof node !== 'object') return;
  const [head, ...rest] = path;
  const obj = node as Record<string, unknown>;
  const keys = head === '[]' ? Object.keys(obj) : [head!];
  for (const k of keys) {
    if (!(k in obj)) continue;
    if (rest.length === 0) obj[k] = f(obj[k]);
    else visit(obj[k], rest, f);
  }
}

describe.each(FIXTURES)('%s', (_file, fixture) => {
  it(`${fixture.source.repo} ${fixture.source.path}: ${fixture.source.what}`, async () => {
    expect(fixture.source.repo).toMatch(/^[\w.-]+\/[\w.-]+$/);
    for (const [i, x] of fixture.exchanges.entries()) {
      if (x.drainFirst) await drainOutboxes({ redis, pool, schema, keyPrefix: prefix });
      const body = { ...x.request };
      const r = await app.inject({
        method: 'POST',
        url: '/jsonrpc',
        headers: {
          authorization: `Bearer ${KEYS[x.role ?? 'billing'].key}`,
          'content-type': 'application/json',
        },
        payload: JSON.stringify(body),
      });
      expect(r.statusCode).toBe(200);
      const got = r.json() as { id: unknown; result: unknown; error: string | null };
      const label = `exchange ${i} (${x.request.method})${x.differs ? ` — differs: ${x.differs}` : ''}`;
      expect(got.id, label).toEqual(x.request.id ?? null);
      if (x.differs) expect(x.ours, `${label}: a difference needs the engine's reply`).toBeDefined();
      const want = x.ours ?? x.response;
      const { a, e } = normalised(
        { result: got.result, error: got.error },
        { result: want.result, error: want.error },
        x.normalise ?? {},
      );
      expect(a, label).toEqual(e);
    }
  });
});
