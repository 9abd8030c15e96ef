/** CDR files over HTTP: upload, poll until done, counts as the pipeline's; a failed job resumes. */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { createCdrJobs, ensureJobsSchema } from '../../src/cdr/jobs.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const BILLING = { authorization: 'Bearer demo-billing' };
let app: FastifyInstance;
let jobs: ReturnType<typeof createCdrJobs>;

beforeAll(async () => {
  await ensureCdrSchema(pool, schema);
  await ensureJobsSchema(pool, schema);
  const balances = createBalanceStore({ redis, keyPrefix: prefix });
  for (let i = 1; i <= 50; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `j${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `j${i}`,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(i).padStart(5, '0')}` }],
      },
      'c',
    );
    await balances.addBalance('acme', `j${i}`, { id: 'main', unit: 'money', value: 1e12 }, 'b');
  }
  jobs = createCdrJobs({ pool, schema, balances, rating: () => rating });
  ({ app } = await testApp({
    redis,
    prefix,
    cdrJobs: { jobs, uploadDir: mkdtempSync(join(tmpdir(), 'uploads-')) },
  }));
});
afterAll(async () => {
  await app.close();
  await rating.close();
});

async function moneyOf(balances: ReturnType<typeof createBalanceStore>): Promise<number> {
  let total = 0;
  for (let i = 1; i <= 50; i++) total += (await balances.getAccount('acme', `j${i}`))!.balances[0]!.value;
  return total;
}

describe('CDR jobs over HTTP', () => {
  it('imports an uploaded gzip file in the background and reports its counters', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/cdr/jobs',
      headers: { ...BILLING, 'content-type': 'application/gzip' },
      payload: readFileSync('cdr-samples/acme-2026-11-20.csv.gz'),
    });
    expect(r.statusCode).toBe(202);
    const { id } = r.json();
    await jobs.idle();
    const job = (await app.inject({ url: `/v1/cdr/jobs/${id}`, headers: BILLING })).json();
    expect(job).toMatchObject({
      status: 'done',
      counters: { read: 405, stored: 400, duplicates: 0 },
      error: null,
    });
    expect(job.counters.rejected).toMatchObject({ MALFORMED_LINE: 1 });
  });

  it('says no to other roles and to a missing body, and 404 to an unknown job', async () => {
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/cdr/jobs',
          headers: { authorization: 'Bearer demo-network', 'content-type': 'text/csv' },
          payload: 'x',
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/cdr/jobs',
          headers: { ...BILLING, 'content-type': 'application/json' },
          payload: {},
        })
      ).statusCode,
    ).toBe(400);
    expect(
      (await app.inject({ url: '/v1/cdr/jobs/00000000-0000-4000-8000-000000000000', headers: BILLING }))
        .statusCode,
    ).toBe(404);
  });

  it('marks a job that cannot run as failed with its reason, and resumes it', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/cdr/jobs',
      headers: { ...BILLING, 'content-type': 'text/csv' },
      payload: 'cdr_id,tenant\n1,acme\n',
    });
    await jobs.idle();
    const failed = (await app.inject({ url: `/v1/cdr/jobs/${r.json().id}`, headers: BILLING })).json();
    expect(failed).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('the header lacks subscriber'),
    });
    const resumed = (
      await app.inject({ method: 'POST', url: `/v1/cdr/jobs/${r.json().id}/resume`, headers: BILLING })
    ).json();
    expect(resumed.status).toBe('running');
    await jobs.idle();
    expect((await app.inject({ url: `/v1/cdr/jobs/${r.json().id}`, headers: BILLING })).json().status).toBe(
      'failed',
    );
  });
});

describe('a CDR job during an outage', () => {
  it('waits while Redis is not answering and goes on by itself where it stopped, charging each CDR once', async () => {
    // The balances' Redis, as the job sees it: after a few batches it stops answering, until let go.
    const outage = { calls: 0, down: true, after: 5 };
    const flaky = new Proxy(redis, {
      get(target, name) {
        if (name === 'fcall' && outage.down && ++outage.calls > outage.after)
          return () =>
            Promise.reject(
              Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
            );
        return Reflect.get(target, name);
      },
    });
    const balances = createBalanceStore({ redis: flaky, keyPrefix: prefix });
    const pausing = createCdrJobs({
      pool,
      schema,
      balances,
      rating: () => rating,
      chunkBytes: 4096,
      retryMs: { first: 200, max: 400 },
    });
    const file = join(mkdtempSync(join(tmpdir(), 'outage-')), 'day.csv');
    await generateCdrFile(file, { lines: 20_000, seed: 3 });
    const plain = createBalanceStore({ redis, keyPrefix: prefix });
    const before = await moneyOf(plain);
    const job = await pausing.start('acme', file);
    const state = async () => (await pausing.get('acme', job.id))!;
    const until = async (ok: (j: Awaited<ReturnType<typeof state>>) => boolean) => {
      for (let i = 0; i < 400; i++) {
        const j = await state();
        if (ok(j)) return j;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`job stuck: ${JSON.stringify(await state())}`);
    };
    const waiting = await until((j) => j.status === 'waiting');
    expect(waiting.error).toContain('not answering');
    outage.down = false;
    const done = await until((j) => j.status === 'done');
    expect(done.counters!.resumedAfterLine).toBeGreaterThan(1);
    const stored = await pool.query(
      `SELECT count(*)::int AS n, coalesce(sum(charged_nano), 0)::text AS charged FROM ${schema}.rated_cdrs WHERE file_id = $1`,
      [job.id],
    );
    // Ids the sample day of the first test stored already are duplicates; every other line is stored.
    expect(stored.rows[0].n + done.counters!.duplicates).toBe(
      20_000 - (done.counters!.resumedAfterLine - 1) + stored.rows[0].n - done.counters!.stored,
    );
    expect(before - (await moneyOf(plain))).toBe(Number(stored.rows[0].charged));
    await pausing.close();
  });
});
