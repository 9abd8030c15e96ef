/** Rated CDRs in PostgreSQL: monthly partitions on demand, each CDR id stored once across them, rejects once. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCdrSchema, storeRatedCdrs, storeRejects, type RatedCdrRow } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();
beforeAll(() => ensureCdrSchema(pool, schema));

const row = (id: string, at: string, over: Partial<RatedCdrRow> = {}): RatedCdrRow => ({
  cdr_id: id,
  tenant: 'acme',
  account_id: 'alice',
  subscriber: '447700900001',
  category: 'call',
  service: 'voice',
  destination: '+442071234567',
  answer_time: at,
  usage: '95',
  rated_usage: '95',
  cost_nano: 208_400_000,
  currency: 'GBP',
  charged_nano: 208_400_000,
  breakdown: { cost: '0.2084', note: 'a "quoted", comma\nand a line break' },
  file_id: 'f1',
  line: 2,
  ...over,
});

describe('rated CDR store', () => {
  it('stores a batch across months in their partitions, exactly as given', async () => {
    const r = await storeRatedCdrs(pool, schema, [
      row('a', '2026-11-30T23:59:00Z'),
      row('b', '2026-12-01T00:01:00Z', { destination: '', service: 'data' }),
    ]);
    expect(r).toEqual({ stored: 2, duplicates: 0 });
    const parts = await pool.query(
      `SELECT tableoid::regclass::text AS part, cdr_id, destination, breakdown FROM ${schema}.rated_cdrs ORDER BY cdr_id`,
    );
    expect(parts.rows.map((x) => [x.cdr_id, x.part.split('.')[1]])).toEqual([
      ['a', 'rated_cdrs_2026_11'],
      ['b', 'rated_cdrs_2026_12'],
    ]);
    expect(parts.rows[1].destination).toBe('');
    expect(parts.rows[0].breakdown.note).toBe('a "quoted", comma\nand a line break');
  });

  it('skips ids it already has, also when the time (and so the partition) differs', async () => {
    const again = await storeRatedCdrs(pool, schema, [
      row('a', '2026-11-30T23:59:00Z'),
      row('b', '2026-10-01T00:00:00Z'),
      row('c', '2026-11-15T10:00:00Z'),
      row('c', '2026-11-15T10:00:00Z'),
    ]);
    expect(again).toEqual({ stored: 1, duplicates: 3 });
    const count = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.rated_cdrs`);
    expect(count.rows[0].n).toBe(3);
  });

  it('keeps each reject once per file and line', async () => {
    const rejects = [
      { line: 7, reason: 'INVALID_TIME' as const, detail: 'x', raw: 'a,b' },
      { line: 9, reason: 'MISSING_FIELD' as const, detail: 'y', raw: 'c' },
    ];
    expect(await storeRejects(pool, schema, 'f1', rejects)).toBe(2);
    expect(await storeRejects(pool, schema, 'f1', rejects)).toBe(0);
    expect(await storeRejects(pool, schema, 'f2', rejects.slice(0, 1))).toBe(1);
  });
});
