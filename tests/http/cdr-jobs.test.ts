/** CDR files over HTTP: upload, poll until done, counts as the pipeline's; a failed job resumes. */
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { DEMO_KEYS } from '../../src/config.js';
import { createCdrJobs, ensureJobsSchema } from '../../src/cdr/jobs.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { onCluster, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const BILLING = { authorization: 'Bearer demo-billing' };
const GLOBEX = { authorization: 'Bearer globex-billing' };
const KEYS = [
  ...DEMO_KEYS,
  { key: 'globex-billing', role: 'billing' as const, tenant: 'globex', name: 'globex billing' },
];
const HEADER = 'cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group';
/** A voice CDR of acme's first subscriber. */
const sampleLine = (id: string) =>
  `${id},acme,447700900001,call,voice,+442071234567,2026-11-21T10:00:00Z,60,,`;
const plain = () => createBalanceStore({ redis, keyPrefix: prefix });
let app: FastifyInstance;
let jobs: ReturnType<typeof createCdrJobs>;
const uploadDir = mkdtempSync(join(tmpdir(), 'uploads-'));

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
    cdrJobs: { jobs, uploadDir },
    keys: KEYS,
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
    expect(readdirSync(uploadDir)).toEqual([]); // a finished job's upload is not kept
  });

  it('takes an upload far larger than a JSON body may be (the file streams to disk)', async () => {
    const body = `${HEADER}\n${Array.from({ length: 40_000 }, (_, i) => sampleLine(`large-${i}`).replace('447700900001', '447700999999')).join('\n')}\n`;
    expect(body.length).toBeGreaterThan(2 << 20); // JSON bodies stop at 1 MiB
    const r = await app.inject({
      method: 'POST',
      url: '/v1/cdr/jobs',
      headers: { ...BILLING, 'content-type': 'text/csv' },
      payload: body,
    });
    expect(r.statusCode).toBe(202);
    await jobs.idle();
    const job = (await app.inject({ url: `/v1/cdr/jobs/${r.json().id}`, headers: BILLING })).json();
    // Nobody has the number: the lines charge nothing (the accounts stay as the other tests expect).
    expect(job).toMatchObject({
      status: 'done',
      counters: { read: 40_000, rejected: { UNKNOWN_SUBSCRIBER: 40_000 } },
    });
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

  it('refuses an empty file, a file without our columns and one over the upload limit before any job: nothing imported', async () => {
    const small = createCdrJobs({ pool, schema, balances: plain(), rating: () => rating });
    const uploadDir = mkdtempSync(join(tmpdir(), 'uploads-'));
    const limited = { jobs: small, uploadDir, maxUploadBytes: 10_000 };
    const { app: strict } = await testApp({ redis, prefix, cdrJobs: limited });
    const jobsBefore = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    const upload = (type: string, payload: string | Buffer) =>
      strict.inject({
        method: 'POST',
        url: '/v1/cdr/jobs',
        headers: { ...BILLING, 'content-type': type },
        payload,
      });
    const lines = (n: number) =>
      `${HEADER}\n${Array.from({ length: n }, (_, i) => sampleLine(`big-${i}`)).join('\n')}\n`;
    const answers = [
      await upload('text/csv', ''),
      await upload('application/gzip', gzipSync('')),
      await upload('text/csv', 'cdr_id,tenant\n1,acme\n'),
      await upload('text/csv', lines(200)),
      await upload('application/gzip', gzipSync(lines(200))), // a small gzip, too large unpacked
    ];
    expect(answers.map((a) => [a.statusCode, a.json().cause])).toEqual([
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [413, 'PAYLOAD_TOO_LARGE'],
      [413, 'PAYLOAD_TOO_LARGE'],
    ]);
    expect(
      answers.every((a) => String(a.headers['content-type']).startsWith('application/problem+json')),
    ).toBe(true);
    expect(answers[2]!.json().detail).toContain('the header lacks subscriber');
    expect(answers[2]!.json().detail).not.toContain(uploadDir);
    const jobsAfter = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    expect(jobsAfter.rows[0].n).toBe(jobsBefore.rows[0].n);
    expect(readdirSync(uploadDir)).toEqual([]);
    const stored = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE cdr_id LIKE 'big-%'`,
    );
    expect(stored.rows[0].n).toBe(0);
    await strict.close();
  });

  it('refuses a gzip cut short anywhere, even inside its header line, with 400 before any job', async () => {
    const jobsBefore = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    const whole = gzipSync(`${HEADER}\n${sampleLine('cut-1')}\n${sampleLine('cut-2')}\n`);
    const dir = mkdtempSync(join(tmpdir(), 'uploads-cut-'));
    const { app: own } = await testApp({ redis, prefix, cdrJobs: { jobs, uploadDir: dir } });
    for (const n of [2, 4, 10, 20, whole.length >> 1, whole.length - 9, whole.length - 1]) {
      const r = await own.inject({
        method: 'POST',
        url: '/v1/cdr/jobs',
        headers: { ...BILLING, 'content-type': 'application/gzip' },
        payload: whole.subarray(0, n),
      });
      expect([r.statusCode, r.json().cause], `${n} of ${whole.length} bytes: ${r.body}`).toEqual([
        400,
        'INVALID_REQUEST',
      ]);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    await own.close();
    const jobsAfter = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    expect(jobsAfter.rows[0].n).toBe(jobsBefore.rows[0].n);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('answers any hostile upload 202 or 4xx problem+json, never 500, and no job it takes fails', async () => {
    const jobsBefore = await pool.query<{ id: string }>(`SELECT id FROM ${schema}.cdr_jobs`);
    const nobody = (id: string) => sampleLine(id).replace('447700900001', '447799999999'); // charges no one
    const good = Buffer.from(`${HEADER}\n${nobody('hx-1')}\n${nobody('hx-2')}\n`);
    const gz = gzipSync(good);
    const columns = HEADER.split(',');
    const body = fc.oneof(
      // a gzip with a few bytes changed, or cut anywhere
      fc
        .array(fc.tuple(fc.nat({ max: gz.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        })
        .map((edits) => {
          const b = Buffer.from(gz);
          for (const [i, v] of edits) b[i] = v;
          return b;
        }),
      fc.nat({ max: gz.length - 1 }).map((n) => gz.subarray(0, n)),
      fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      fc.uint8Array({ maxLength: 100 }).map((u) => Buffer.concat([Buffer.from([0x1f, 0x8b]), u])),
      // a header with columns left out, repeated, shuffled or made up, over a plain line
      fc
        .shuffledSubarray([...columns, 'cdr_id', 'x', '', '"a,b"', '"unterminated'])
        .map((h) => Buffer.from(`${h.join(',')}\n${nobody('hx-3')}\n`)),
      fc.constantFrom(
        Buffer.from(`\ufeff${good}`),
        Buffer.from(`${HEADER}\r\n${nobody('hx-4')}\r\n`),
        Buffer.from(`${HEADER}\n`),
        Buffer.from('\n\n\n'),
        Buffer.from(`\u0000${HEADER}\n`),
        Buffer.concat([Buffer.from(`${HEADER}\n`), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])]),
        gzipSync(gzipSync(good)),
        gzipSync(''),
      ),
    );
    const type = fc.constantFrom('text/csv', 'application/gzip', 'application/octet-stream');
    await fc.assert(
      fc.asyncProperty(body, type, async (payload, contentType) => {
        const r = await app.inject({
          method: 'POST',
          url: '/v1/cdr/jobs',
          headers: { ...BILLING, 'content-type': contentType },
          payload,
        });
        const what = `${contentType} ${payload.subarray(0, 60).toString('hex')}: ${r.statusCode} ${r.body}`;
        expect(r.statusCode, what).toBeLessThan(500);
        if (r.statusCode === 202) return;
        expect(r.statusCode, what).toBeGreaterThanOrEqual(400);
        expect(r.headers['content-type'], what).toContain('application/problem+json');
        expect(typeof r.json().cause, what).toBe('string');
      }),
      { numRuns: 150 },
    );
    await jobs.idle();
    const failed = await pool.query(
      `SELECT id, error FROM ${schema}.cdr_jobs WHERE status <> 'done' AND NOT (id = ANY($1::text[]))`,
      [jobsBefore.rows.map((j) => j.id)],
    );
    expect(failed.rows).toEqual([]);
  });

  it('refuses a file declared in a charset other than UTF-8 with 415 before any job (it would be misread)', async () => {
    const jobsBefore = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    const csv = `${HEADER}\n${sampleLine('charset-1')}\n`;
    const upload = (type: string, payload: string | Buffer = csv) =>
      app.inject({
        method: 'POST',
        url: '/v1/cdr/jobs',
        headers: { ...BILLING, 'content-type': type },
        payload,
      });
    for (const [type, payload] of [
      ['text/csv; charset=utf-16', Buffer.from(`\ufeff${csv}`, 'utf16le')],
      ['text/csv; charset=utf-16', csv], // UTF-8 bytes under a UTF-16 label: which one is wrong?
      ['text/csv; charset="ISO-8859-1"', csv],
      ['application/octet-stream; charset=windows-1252', csv],
    ] as const) {
      const r = await upload(type, payload);
      expect([r.statusCode, r.json().cause], type).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json().detail).toContain('UTF-8');
    }
    const jobsAfter = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.cdr_jobs`);
    expect(jobsAfter.rows[0].n).toBe(jobsBefore.rows[0].n);
    const stored = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE cdr_id LIKE 'charset-%'`,
    );
    expect(stored.rows[0].n).toBe(0);
    // UTF-8 named in any spelling is read.
    const nobody = sampleLine('charset-ok').replace('447700900001', '447799999999'); // charges no one
    const ok = await upload('text/csv; Charset="UTF-8"', `${HEADER}\n${nobody}\n`);
    expect(ok.statusCode).toBe(202);
    await jobs.idle();
  });

  it("imports a file uploaded by another tenant's key for that tenant only: acme's lines are TENANT_MISMATCH, acme is not charged", async () => {
    const before = await moneyOf(plain());
    const body = `${HEADER}\n${sampleLine('breach-1')}\n${sampleLine('breach-2')}\n`;
    const r = await app.inject({
      method: 'POST',
      url: '/v1/cdr/jobs',
      headers: { ...GLOBEX, 'content-type': 'text/csv' },
      payload: body,
    });
    expect(r.statusCode).toBe(202);
    await jobs.idle();
    const job = (await app.inject({ url: `/v1/cdr/jobs/${r.json().id}`, headers: GLOBEX })).json();
    expect(job).toMatchObject({
      status: 'done',
      counters: { read: 2, stored: 0, rejected: { TENANT_MISMATCH: 2 } },
    });
    expect(await moneyOf(plain())).toBe(before);
    const stored = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.rated_cdrs WHERE cdr_id LIKE 'breach-%'`,
    );
    expect(stored.rows[0].n).toBe(0);
  });

  it("resumes a failed job for its tenant; another tenant's key gets 404 for it, to read or to resume", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'failed-')), 'day.csv');
    copyFileSync('cdr-samples/acme-2026-11-20.csv', file);
    const id = randomUUID();
    await pool.query(
      `INSERT INTO ${schema}.cdr_jobs (id, tenant, file, status, error) VALUES ($1, 'acme', $2, 'failed', 'it stopped')`,
      [id, file],
    );
    expect((await app.inject({ url: `/v1/cdr/jobs/${id}`, headers: GLOBEX })).statusCode).toBe(404);
    const theirs = await app.inject({ method: 'POST', url: `/v1/cdr/jobs/${id}/resume`, headers: GLOBEX });
    expect([theirs.statusCode, theirs.json().cause]).toEqual([404, 'NOT_FOUND']);
    expect((await app.inject({ url: `/v1/cdr/jobs/${id}`, headers: BILLING })).json().status).toBe('failed');
    const resumed = await app.inject({ method: 'POST', url: `/v1/cdr/jobs/${id}/resume`, headers: BILLING });
    expect(resumed.json().status).toBe('running');
    await jobs.idle();
    const done = (await app.inject({ url: `/v1/cdr/jobs/${id}`, headers: BILLING })).json();
    expect(done).toMatchObject({ status: 'done', error: null, counters: { read: 405 } });
  });
});

describe('a CDR job during an outage', () => {
  it('waits while Redis is not answering and goes on by itself where it stopped, charging each CDR once', async () => {
    // The balances' Redis, as the job sees it: after a few batches it stops answering, until let go.
    // (A Cluster charges each account of a chunk in a call of its own: more calls before the first chunk is stored.)
    const outage = { calls: 0, down: true, after: onCluster ? 300 : 5 };
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
    const before = await moneyOf(plain());
    const job = await pausing.start('acme', file);
    const state = async () => (await pausing.get('acme', job.id))!;
    const until = async (ok: (j: Awaited<ReturnType<typeof state>>) => boolean) => {
      // Up to 40 s: on a loaded 2-core machine 20,000 lines in 4 KiB chunks take a while.
      for (let i = 0; i < 1600; i++) {
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
    expect(before - (await moneyOf(plain()))).toBe(Number(stored.rows[0].charged));
    await pausing.close();
  });
});
