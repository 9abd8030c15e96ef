/**
 * Races between engines sharing one PostgreSQL: two starting together on a new DB_SCHEMA both
 * create it (no duplicate key in the catalog), two drains storing the same outbox rows at once
 * wait for each other instead of deadlocking, and two CDR imports creating the same month's
 * partition both go on.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema, LedgerRows } from '../../src/balances/ledger.js';
import { ensureCdrSchema, ensurePartitions } from '../../src/cdr/store.js';
import { ensureRecordsSchema, RecordRows } from '../../src/storage/records.js';
import { ensureEngineSchema } from '../../src/storage/schema.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();
// A second engine's pool.
const other = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
other.on('error', () => {});
const fresh: string[] = [];

afterAll(async () => {
  for (const s of fresh) await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await other.end();
});

describe('engines starting together', () => {
  it('create a new schema once, whoever comes first, every time', async () => {
    for (let round = 0; round < 6; round++) {
      const s = `t_${randomBytes(6).toString('hex')}`;
      fresh.push(s);
      await Promise.all([
        ensureEngineSchema(pool, s),
        ensureEngineSchema(other, s),
        ensureEngineSchema(other, s),
      ]);
      const tables = await pool.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [s]);
      expect(tables.rows[0].n).toBeGreaterThanOrEqual(8);
    }
  }, 120_000);
});

/** The same ledger rows, many of them, in the order given. */
function rows(order: number[]): LedgerRows {
  const r = new LedgerRows();
  for (const i of order) {
    const f = new Map([
      ['op', `op${i}`],
      ['account', 'a1'],
      ['at', '1764000000000'],
      ['moves', 'a,main,money,debit,-1,0,0'],
    ]);
    r.add('{a:t:a1}:outbox', `1764000000000-${i}`, 't', f);
  }
  return r;
}

/** The same rated records, in the order given. */
function records(order: number[]): RecordRows {
  const r = new RecordRows();
  const row = (i: number) => ({
    record_id: `event:e${i}`,
    tenant: 't',
    account_id: 'a1',
    kind: 'event',
    category: 'sms',
    tor: 'sms',
    destination: 'UK',
    started_at: '2026-11-20T10:00:00Z',
    usage: 1,
    cost_nano: 40_000_000,
    currency: 'GBP',
    result_code: 2001,
    close_cause: 'DIRECT_DEBITING',
    breakdown: null,
  });
  r.addRated(JSON.stringify(order.map(row)));
  return r;
}

/** Stores in one transaction of this pool's, as a drain does. */
async function inTransaction(db: pg.Pool, store: (c: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await store(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

describe('two drains storing the same rows', () => {
  it('never deadlock, whatever order they read them in', async () => {
    await ensureLedgerSchema(pool, schema);
    const n = 4000;
    const up = Array.from({ length: n }, (_, i) => i);
    for (let round = 0; round < 4; round++) {
      await pool.query(`TRUNCATE ${schema}.balance_ledger`);
      await Promise.all([
        inTransaction(pool, (c) => rows(up).insert(c, schema)),
        inTransaction(other, (c) => rows([...up].reverse()).insert(c, schema)),
      ]);
      const stored = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.balance_ledger`);
      expect(stored.rows[0].n).toBe(n);
    }
  }, 60_000);

  it('never deadlock on rated records either', async () => {
    await ensureRecordsSchema(pool, schema);
    const n = 3000;
    const up = Array.from({ length: n }, (_, i) => i);
    for (let round = 0; round < 4; round++) {
      await pool.query(`TRUNCATE ${schema}.rated_records`);
      await Promise.all([
        inTransaction(pool, (c) => records(up).insert(c, schema)),
        inTransaction(other, (c) => records([...up].reverse()).insert(c, schema)),
      ]);
      const stored = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.rated_records`);
      expect(stored.rows[0].n).toBe(n);
    }
  }, 60_000);

  it('two CDR imports meeting a new month at once both store it (one partition, no catalog error)', async () => {
    await ensureCdrSchema(pool, schema);
    for (let i = 0; i < 6; i++) {
      const month = `${2040 + i}-01`;
      await Promise.all(
        [pool, other].map((db) =>
          inTransaction(db, async (c) => {
            await ensurePartitions(c, schema, [month]);
            await new Promise((ok) => setTimeout(ok, 30)); // the rest of the chunk's transaction
          }),
        ),
      );
      const made = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [
        `${schema}.rated_cdrs_${2040 + i}_01`,
      ]);
      expect(made.rows[0].e).toBe(true);
    }
  }, 60_000);
});
