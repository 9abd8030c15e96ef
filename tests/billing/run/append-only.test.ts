/**
 * Billable rows are append-only (billing.md E.1, E.2): a rated record keeps the money it took and
 * when it was first stored; a late report replacing it writes the difference to usage_adjustments,
 * once, however often the drain stores it again and in whatever order.
 */
import { describe, expect, it } from 'vitest';
import { ensureRecordsSchema, RecordRows, type RatedRecord } from '../../../src/storage/records.js';
import { testPostgres } from '../../support/postgres.js';

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

async function store(records: RatedRecord[], moves?: string): Promise<void> {
  const rows = new RecordRows();
  rows.addRated(JSON.stringify(records), moves);
  await rows.insert(pool, schema);
}

async function row(id: string) {
  const r = await pool.query(
    `SELECT usage::int, cost_nano::int AS cost, charged_nano::int AS charged, first_stored_at::text AS first, stored_at::text AS stored
       FROM ${schema}.rated_records WHERE record_id = $1`,
    [id],
  );
  return r.rows[0];
}

async function adjustments() {
  const r = await pool.query(
    `SELECT source, source_id, reason, tor, category, delta_charged_nano::int AS delta, op_id
       FROM ${schema}.usage_adjustments ORDER BY id`,
  );
  return r.rows;
}

describe('append-only rated records', () => {
  it('writes a late report as a difference row, once, and never changes what the record took', async () => {
    await ensureRecordsSchema(pool, schema);
    await store([sessionRecord(1_000_000, 5_000, 'expire')]);
    const first = await row('session:s1:10');
    expect(first).toMatchObject({ usage: 1_000_000, cost: 5_000, charged: 5_000 });
    // A late report: 3 MB for 15,000 in all. The record shows it; the 10,000 more is a difference.
    await store([sessionRecord(3_000_000, 15_000, 'late-report')]);
    const replaced = await row('session:s1:10');
    expect(replaced).toMatchObject({ usage: 3_000_000, cost: 15_000, charged: 5_000, first: first.first });
    expect(replaced.stored > first.stored).toBe(true);
    const late = {
      source: 'record',
      source_id: 'session:s1:10',
      reason: 'late_report',
      tor: 'data',
      category: 'data',
      delta: 10_000,
      op_id: 'late_report:session:s1:10:1',
    };
    expect(await adjustments()).toEqual([late]);
    // The same version again (a drain retried), or the older one stored late: no new difference.
    await store([sessionRecord(3_000_000, 15_000, 'late-report')]);
    await store([sessionRecord(1_000_000, 5_000, 'expire')]);
    expect(await adjustments()).toEqual([late]);
    // Another late report: the difference to all the record took so far.
    await store([sessionRecord(4_000_000, 18_000, 'late-report')]);
    expect(await adjustments()).toEqual([
      late,
      { ...late, delta: 3_000, op_id: 'late_report:session:s1:10:2' },
    ]);
    expect(await row('session:s1:10')).toMatchObject({ charged: 5_000, first: first.first });
  });

  it('keeps what an event took from money balances, not its price, when a bundle paid part', async () => {
    const event: RatedRecord = {
      ...sessionRecord(3, 3_000, 'DIRECT_DEBITING'),
      record_id: 'event:e1',
      kind: 'event',
      tor: 'sms',
      category: 'sms',
    };
    // Two SMS from a bundle, one from money (1,000 nano): the entry's movements say so.
    await store([event], 'a,sms-bundle,sms,debit,-2,0,8;a,main,money,debit,-1000,0,99000');
    expect(await row('event:e1')).toMatchObject({ cost: 3_000, charged: 1_000 });
    // A refund event: money given back is negative.
    await store([{ ...event, record_id: 'event:e2', cost_nano: -500 }], 'a,main,money,refund,500,0,99500');
    expect(await row('event:e2')).toMatchObject({ charged: -500 });
  });
});
