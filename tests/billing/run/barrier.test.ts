/**
 * The cut-off barrier (billing.md E.3 step 3, E.6 #6 and #17): the snapshot a bill is drafted from
 * holds exactly the billable rows stamped at or before its cut-off C — whatever the writers (CDR
 * chunks, the outbox drain) were doing at that instant. A writer that began before C but got its
 * lock after it stamps its rows after C: they are on the next bill, not lost.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { PoolClient } from 'pg';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../../src/balances/store.js';
import { ensureLedgerSchema } from '../../../src/balances/ledger.js';
import { barrierTestHooks, cutOff, cutTestHooks, endSnapshot } from '../../../src/billing/run/cutoff.js';
import { importCdrFile, type ImportDeps } from '../../../src/cdr/pipeline.js';
import { createRatingPool } from '../../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../../src/cdr/store.js';
import { drainOutboxes } from '../../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../../src/storage/records.js';
import { testApp } from '../../support/app.js';
import { databaseUrl, testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
// The barrier on a pool of its own, as the run has: writers waiting on the lock hold the other's.
const runPool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const deps: ImportDeps = { balances, pool, schema, rating };
const subscribers = Array.from({ length: 50 }, (_, i) => `4477009${String(i + 1).padStart(5, '0')}`);
let app: FastifyInstance;

beforeAll(async () => {
  await ensureCdrSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureLedgerSchema(pool, schema);
  ({ app } = await testApp({ redis, prefix }));
  for (const [i, msisdn] of subscribers.entries()) {
    const id = `s${i + 1}`;
    await balances.createAccount(
      {
        tenant: 'acme',
        id,
        type: 'prepaid',
        currency: 'GBP',
        subject: id,
        subscriptions: [{ type: 'msisdn', value: msisdn }],
      },
      `c${id}`,
    );
    await balances.addBalance('acme', id, { id: 'main', unit: 'money', value: 100_000_000_000 }, `b${id}`);
  }
});
afterEach(() => {
  delete cutTestHooks.beforeSharedLock;
  delete barrierTestHooks.whileExclusive;
});
afterAll(async () => {
  await app.close();
  await rating.close();
  await runPool.end();
});

/** Every billable row as a key: rated CDRs, rated records, usage adjustments. */
const KEYS = (where: (col: string) => string) => `
  SELECT 'cdr:' || cdr_id AS k FROM ${schema}.rated_cdrs WHERE ${where('stored_at')}
  UNION ALL SELECT 'rec:' || record_id FROM ${schema}.rated_records WHERE ${where('first_stored_at')}
  UNION ALL SELECT 'adj:' || op_id FROM ${schema}.usage_adjustments WHERE ${where('stored_at')}`;

async function keys(db: Pick<PoolClient, 'query'>, cutoffAt?: string): Promise<string[]> {
  const r = await db.query<{ k: string }>(
    cutoffAt ? KEYS((c) => `${c} <= $1::timestamptz`) : KEYS(() => 'true'),
    cutoffAt ? [cutoffAt] : [],
  );
  return r.rows.map((x) => x.k).sort();
}

interface Cut {
  cutoffAt: string;
  seen: string[];
}

/** A cut-off, and what its snapshot holds. */
async function cut(): Promise<Cut> {
  const c = await cutOff(runPool, schema, 'acme');
  const seen = await keys(c.snapshot);
  await endSnapshot(c);
  return { cutoffAt: c.cutoffAt, seen };
}

function sms(n: number) {
  return app.inject({
    method: 'POST',
    url: `/v1/events/sms-${n}`,
    headers: { authorization: 'Bearer demo-network' },
    payload: {
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T10:10:00Z',
      serviceContextId: '32274@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: subscribers[n % subscribers.length] }],
      serviceInformation: { sms: { recipients: ['447911123456'] } },
      mscc: [{ ratingGroup: 300 }],
    },
  });
}

/** The sample CDR day under other CDR ids (new CDRs to import). */
function copyOfSample(name: string): string {
  const path = join(tmpdir(), `b4-${name}-${process.pid}.csv`);
  writeFileSync(path, readFileSync('cdr-samples/acme-2026-11-20.csv', 'utf8').replace(/^cdr-/gm, `${name}-`));
  return path;
}

const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix });

describe('the cut-off barrier', () => {
  it('puts the rows of a writer that began before the cut-off but locked after it on the next bill (#17)', async () => {
    let paused!: () => void;
    const atLock = new Promise<void>((resolve) => (paused = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    cutTestHooks.beforeSharedLock = async () => {
      delete cutTestHooks.beforeSharedLock; // the first chunk only
      paused();
      await held;
    };
    const before = await keys(pool);
    const importing = importCdrFile(deps, 'cdr-samples/acme-2026-11-20.csv', { fileId: 'late-lock' });
    await atLock; // the chunk's transaction has begun, its lock not yet taken
    const c = await cutOff(runPool, schema, 'acme');
    release();
    const counters = await importing;
    expect(counters.stored).toBe(400);
    // The snapshot does not see the chunk (it committed after), and every row of it is stamped after C.
    expect(await keys(c.snapshot)).toEqual(before);
    await endSnapshot(c);
    const late = await pool.query<{ n: number; first: string }>(
      `SELECT count(*)::int AS n, bool_and(stored_at > $1::timestamptz) AS after FROM ${schema}.rated_cdrs WHERE file_id = 'late-lock'`,
      [c.cutoffAt],
    );
    expect(late.rows[0]).toEqual({ n: 400, after: true });
    // Bill N (stored_at <= C) is exactly what the snapshot saw.
    expect(await keys(pool, c.cutoffAt)).toEqual(before);
  });

  it('sees exactly the rows stamped up to C while imports and drains run (#6)', async () => {
    const cuts: Cut[] = [];
    // Forced interleavings: every third writer is held between BEGIN and its lock while a cut-off
    // happens; the barrier itself lingers with its exclusive lock so writers queue behind it.
    let calls = 0;
    cutTestHooks.beforeSharedLock = async () => {
      if (calls++ % 3 === 0) cuts.push(await cut());
    };
    barrierTestHooks.whileExclusive = () => new Promise((resolve) => setTimeout(resolve, 5));
    let charging = true;
    const events = (async () => {
      for (let n = 0; charging; n++) {
        await sms(n);
        if (n % 5 === 0) await drain();
      }
      await drain();
    })();
    const outside = (async () => {
      while (charging) {
        cuts.push(await cut());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const counters = await importCdrFile(deps, copyOfSample('load'), {
      fileId: 'under-load',
      chunkBytes: 2048, // many chunks, many transactions
    });
    charging = false;
    await Promise.all([events, outside]);
    delete cutTestHooks.beforeSharedLock;
    cuts.push(await cut());
    expect(counters.stored).toBe(400);
    expect(cuts.length).toBeGreaterThan(5);
    const all = await keys(pool);
    expect(all.some((k) => k.startsWith('rec:'))).toBe(true);
    // Each cut-off's snapshot is exactly the rows stamped at or before its C: nothing missed,
    // nothing from later.
    for (const c of cuts) expect(c.seen).toEqual(await keys(pool, c.cutoffAt));
    expect(cuts.at(-1)!.seen).toEqual(all);
  });
});
