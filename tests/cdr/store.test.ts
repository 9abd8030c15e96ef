/**
 * Rated CDRs in PostgreSQL: monthly partitions on demand, rows exactly as written (COPY escapes),
 * each CDR claimed once per tenant across partitions and within a batch, claims given up, rejects once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyRow, CopyBuffer } from '../../src/cdr/rows.js';
import {
  claimCdrs,
  copyRatedCdrs,
  ensureCdrSchema,
  ensurePartitions,
  storeRejects,
  unclaimCdrs,
} from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();
beforeAll(() => ensureCdrSchema(pool, schema));

const breakdown = JSON.stringify({
  cost: '0.2084',
  note: 'a "quoted", tab\there, back\\slash\nand a line break',
});
const row = (id: string, at: string, destination = '+442071234567') =>
  copyRow([
    id,
    'acme',
    'alice',
    '447700900001',
    'call',
    'voice',
    destination,
    at,
    '95',
    '95',
    208_400_000,
    'GBP',
    breakdown,
    'f1',
    2,
  ]) + '\t208400000';
const claim = (id: string, at: string, tenant = 'acme') => copyRow([tenant, id, at, 'f1', 0]);

async function inTransaction<T>(work: (client: import('pg').PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } finally {
    client.release();
  }
}

/** COPY text of these rows, and where each ends (bytes). */
function text(rows: string[]): [Uint8Array, Int32Array] {
  const out = new CopyBuffer(16, 1);
  for (const r of rows) out.append(`${r}\n`);
  const { bytes, ends } = out.take();
  return [bytes, ends];
}

async function store(cdrs: [string, string][]) {
  return inTransaction(async (client) => {
    const fresh = await claimCdrs(client, schema, ...text(cdrs.map(([id, at]) => claim(id, at))));
    const months = [...new Set(cdrs.map(([, at]) => at.slice(0, 7)))];
    await ensurePartitions(client, schema, months);
    await copyRatedCdrs(
      client,
      schema,
      text(cdrs.filter((_, i) => fresh[i]).map(([id, at]) => row(id, at)))[0],
    );
    return fresh;
  });
}

describe('rated CDR store', () => {
  it('stores a batch across months in their partitions, exactly as given', async () => {
    expect(
      await store([
        ['a', '2026-11-30T23:59:00Z'],
        ['b', '2026-12-01T00:01:00Z'],
      ]),
    ).toEqual([true, true]);
    const parts = await pool.query(
      `SELECT tableoid::regclass::text AS part, cdr_id, breakdown, charged_nano::int FROM ${schema}.rated_cdrs ORDER BY cdr_id`,
    );
    expect(parts.rows.map((x) => [x.cdr_id, x.part.split('.')[1], x.charged_nano])).toEqual([
      ['a', 'rated_cdrs_2026_11', 208_400_000],
      ['b', 'rated_cdrs_2026_12', 208_400_000],
    ]);
    expect(parts.rows[0].breakdown.note).toBe('a "quoted", tab\there, back\\slash\nand a line break');
  });

  it('claims each id once: ids stored before (in any month) and repeats within a batch are duplicates', async () => {
    const fresh = await store([
      ['a\\odd\tid', '2026-11-20T10:00:00Z'], // escaped in COPY rows, and read back as written
      ['a', '2026-11-30T23:59:00Z'],
      ['b', '2026-10-01T00:00:00Z'],
      ['c', '2026-11-15T10:00:00Z'],
      ['c', '2026-11-15T10:00:00Z'],
    ]);
    expect(fresh).toEqual([true, false, false, true, false]);
    const count = await pool.query(`SELECT count(*)::int AS n FROM ${schema}.rated_cdrs`);
    expect(count.rows[0].n).toBe(4);
    const odd = await pool.query(`SELECT cdr_id FROM ${schema}.cdr_ids WHERE cdr_id LIKE 'a%id'`);
    expect(odd.rows[0].cdr_id).toBe('a\\odd\tid');
  });

  it('claims an id once per tenant: the same id in another tenant is another CDR', async () => {
    const rows = [claim('t1', '2026-11-15T10:00:00Z'), claim('t1', '2026-11-15T10:00:00Z', 'globex')];
    expect(await inTransaction((client) => claimCdrs(client, schema, ...text(rows)))).toEqual([true, true]);
    // Claimed again (with a new one, so the batch goes the per-row way): each is a duplicate in its own tenant.
    const again = [...rows, claim('t2', '2026-11-15T10:00:00Z', 'globex'), rows[1]!];
    expect(await inTransaction((client) => claimCdrs(client, schema, ...text(again)))).toEqual([
      false,
      false,
      true,
      false,
    ]);
    await inTransaction((client) => unclaimCdrs(client, schema, [{ tenant: 'globex', cdrId: 't1' }]));
    const left = await pool.query(`SELECT tenant FROM ${schema}.cdr_ids WHERE cdr_id = 't1'`);
    expect(left.rows).toEqual([{ tenant: 'acme' }]);
  });

  it('gives up claims of CDRs that could not be charged, so they can be fed again', async () => {
    await inTransaction(async (client) => {
      await claimCdrs(client, schema, ...text([claim('d', '2026-11-15T10:00:00Z')]));
      await unclaimCdrs(client, schema, [{ tenant: 'acme', cdrId: 'd' }]);
    });
    expect(await store([['d', '2026-11-15T10:00:00Z']])).toEqual([true]);
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
