/**
 * No CDR is charged without being stored: a batch that cannot be stored gives its money back at
 * once, a batch left behind by a dead importer is given back by recovery, and a file fed again
 * after either charges every CDR exactly once.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeBatch } from '../../src/balances/batch.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { recoverBatches, registerBatch } from '../../src/cdr/batches.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
const START = 1_000_000_000;
const file = join(tmpdir(), `cdr-batches-${process.pid}.csv`);

beforeAll(async () => {
  await ensureCdrSchema(pool, schema);
  for (const id of ['x1', 'x2']) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id,
        type: 'prepaid',
        currency: 'GBP',
        subject: id,
        subscriptions: [{ type: 'msisdn', value: `44770${id}` }],
      },
      `c-${id}`,
    );
    await balances.addBalance('acme', id, { id: 'main', unit: 'money', value: START }, `b-${id}`);
  }
  writeFileSync(
    file,
    'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n' +
      'b1,acme,44770x1,call,voice,+442071234567,2026-11-20T10:00:00Z,60\n' +
      'b2,acme,44770x2,sms,sms,+447911123456,2026-11-20T10:01:00Z,1\n',
  );
});
afterAll(() => rating.close());

const money = async (id: string) => (await balances.getAccount('acme', id))!.balances[0]!.value;
const count = async (table: string) =>
  (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0].n as number;

/** The pool, but the storing transaction fails at its end (as a full disk would). */
function failingAtStore(real: Pool): Pool {
  return new Proxy(real, {
    get(target, name) {
      if (name !== 'connect') return Reflect.get(target, name);
      return async (callback?: unknown) => {
        if (callback) return (target.connect as (cb: unknown) => void)(callback); // pool.query's own use
        const client = await target.connect();
        return new Proxy(client, {
          get(c, n) {
            if (n !== 'query') return Reflect.get(c, n);
            return (q: unknown, ...rest: unknown[]) =>
              typeof q === 'string' && q.includes("SET status = 'stored'")
                ? Promise.reject(new Error('could not extend file: No space left on device'))
                : (c.query as (...a: unknown[]) => unknown).call(c, q, ...rest);
          },
        });
      };
    },
  });
}

/** The pool, but a chunk's COMMIT loses its answer after the server committed (a dropped link). */
function losingCommitAnswer(real: Pool): Pool {
  return new Proxy(real, {
    get(target, name) {
      if (name !== 'connect') return Reflect.get(target, name);
      return async (callback?: unknown) => {
        if (callback) return (target.connect as (cb: unknown) => void)(callback);
        const client = await target.connect();
        return new Proxy(client, {
          get(c, n) {
            if (n !== 'query') return Reflect.get(c, n);
            const query = (c.query as (...a: unknown[]) => Promise<unknown>).bind(c);
            return (q: unknown, ...rest: unknown[]) =>
              q === 'COMMIT'
                ? query(q).then(() => Promise.reject(new Error('Connection terminated unexpectedly')))
                : query(q, ...rest);
          },
        });
      };
    },
  });
}

describe('charging batches of CDRs', () => {
  it('gives a batch back at once when it cannot be stored; the file fed again charges it once', async () => {
    await expect(
      importCdrFile({ balances, pool: failingAtStore(pool), schema, rating }, file, { fileId: 'f' }),
    ).rejects.toThrow('No space left');
    expect([await money('x1'), await money('x2')]).toEqual([START, START]);
    expect([await count('rated_cdrs'), await count('cdr_ids'), await count('cdr_batches')]).toEqual([
      0, 0, 0,
    ]);

    const c = await importCdrFile({ balances, pool, schema, rating }, file, { fileId: 'f' });
    expect(c).toMatchObject({ stored: 2, duplicates: 0 });
    const charged = START * 2 - (await money('x1')) - (await money('x2'));
    expect(charged).toBe(c.chargedNano);
    expect(charged).toBeGreaterThan(0);
  });

  it('keeps a batch charged when its commit went through but its answer was lost', async () => {
    const lost = join(tmpdir(), `cdr-batches-lost-${process.pid}.csv`);
    writeFileSync(
      lost,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n' +
        'l1,acme,44770x1,call,voice,+442071234567,2026-11-20T11:00:00Z,60\n' +
        'l2,acme,44770x2,sms,sms,+447911123456,2026-11-20T11:01:00Z,1\n',
    );
    const before = (await money('x1')) + (await money('x2'));
    await expect(
      importCdrFile({ balances, pool: losingCommitAnswer(pool), schema, rating }, lost, { fileId: 'lost' }),
    ).rejects.toThrow('Connection terminated');
    const stored = await pool.query(
      `SELECT count(*)::int AS n, sum(charged_nano)::text AS charged FROM ${schema}.rated_cdrs WHERE file_id = 'lost'`,
    );
    expect(stored.rows[0].n).toBe(2);
    expect(before - (await money('x1')) - (await money('x2'))).toBe(Number(stored.rows[0].charged));
    expect(await count('cdr_batches')).toBe(0);
    const again = await importCdrFile({ balances, pool, schema, rating }, lost, { fileId: 'lost-again' });
    expect(again).toMatchObject({ stored: 0, duplicates: 2, chargedNano: 0 });
  });

  it('recovery gives back a batch its importer left pending, and keeps one it had stored', async () => {
    const before = await money('x1');
    const x1 = [{ tenant: 'acme', accountId: 'x1' }];
    const charge = (id: string) =>
      chargeBatch(balances, id, [{ ...x1[0]!, mode: 'sum', moneyNano: 7, units: ['sms'] }], Date.now());
    await registerBatch(pool, schema, 'dead-1', 'f', x1);
    await charge('dead-1');
    await registerBatch(pool, schema, 'done-1', 'f', x1);
    await charge('done-1');
    await pool.query(`UPDATE ${schema}.cdr_batches SET status = 'stored' WHERE batch_id = 'done-1'`);
    expect(await money('x1')).toBe(before - 14);
    expect(await recoverBatches(pool, schema, balances, Date.now())).toEqual({ reverted: 1, finished: 1 });
    expect(await money('x1')).toBe(before - 7);
    expect(await count('cdr_batches')).toBe(0);
    expect(await recoverBatches(pool, schema, balances, Date.now())).toEqual({ reverted: 0, finished: 0 });
  });
});
