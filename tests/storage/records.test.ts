/** Rated records in PostgreSQL: stored once per id, and a newer version is never overwritten by an older one. */
import { describe, expect, it } from 'vitest';
import { ensureRecordsSchema, RecordRows, type RatedRecord } from '../../src/storage/records.js';
import { testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();

function sessionRecord(usage: number, costNano: number, cause: string): RatedRecord {
  return {
    record_id: 'session:s1:10',
    tenant: 'acme',
    account_id: 'alice',
    kind: 'session',
    category: 'data',
    tor: 'data',
    destination: '*any',
    started_at: '2026-11-20T10:00:00.000Z',
    usage,
    cost_nano: costNano,
    currency: 'GBP',
    result_code: 2001,
    close_cause: cause,
    breakdown: null,
  };
}

async function store(...records: RatedRecord[]): Promise<void> {
  const rows = new RecordRows();
  rows.addRated(JSON.stringify(records));
  await rows.insert(pool, schema);
}

async function stored() {
  const r = await pool.query(
    `SELECT usage::int, cost_nano::int AS cost, close_cause FROM ${schema}.rated_records WHERE record_id = 'session:s1:10'`,
  );
  return r.rows;
}

describe('rated records', () => {
  it('keeps the newest version of a session record, whatever order the drainers store them in', async () => {
    await ensureRecordsSchema(pool, schema);
    // Closed by expiry with 1 MB, then a late report brought it to 3 MB.
    const expired = sessionRecord(1_000_000, 5_000, 'expire');
    const late = sessionRecord(3_000_000, 15_000, 'late-report');
    await store(expired);
    await store(late);
    expect(await stored()).toEqual([{ usage: 3_000_000, cost: 15_000, close_cause: 'late-report' }]);
    // A drainer that read the older entry commits after the one that stored the newer: no regression.
    await store(expired);
    expect(await stored()).toEqual([{ usage: 3_000_000, cost: 15_000, close_cause: 'late-report' }]);
    // The same version again (a drain retried) changes nothing either.
    await store(late);
    expect(await stored()).toEqual([{ usage: 3_000_000, cost: 15_000, close_cause: 'late-report' }]);
  });
});
