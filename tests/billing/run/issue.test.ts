/**
 * Issuing at once (documents/issue.ts): a run that finalizes writes each chunk's documents already
 * numbered and hashed, in the chunk's one transaction. Hash-equal to the same drafts stored and
 * finalized later; a parked account leaves no gap in its chunk; a chunk rolled back (a posting that
 * fails) gives its numbers back; lines still cannot be added to an issued invoice afterwards.
 */
import type { Pool } from 'pg';
import { describe, expect, it } from 'vitest';
import { issueDrafts } from '../../../src/billing/documents/issue.js';
import { inTransaction } from '../../../src/billing/documents/transaction.js';
import { runBilling } from '../../../src/billing/run/run.js';
import type { RedisClient as Redis } from '../../../src/infra/redis.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { draftOf } from '../documents/drafts.js';
import { addAccount, addVat, applyFee, ensureAll, moneyOf, runDeps, storeRecord } from './support.js';

const asOf = new Date('2026-12-01T00:00:00Z');
const NOW_MS = Date.parse('2026-12-05T00:00:00Z');
type World = { pool: Pool; schema: string; redis: Redis; prefix: string };
const worlds: World[] = [
  { ...testPostgres(), ...testRedis() },
  { ...testPostgres(), ...testRedis() },
];
const deps = (w: World, chunkSize = 2) => ({
  ...runDeps(w.pool, w.schema, w.redis, w.prefix, NOW_MS),
  chunkSize,
  reconcile: false,
});

/** Postpaid accounts with a fee and a session each (amounts that make the tax round). */
const ready = new Set<World>();

async function build(w: World, ids: string[], bad: string[] = []) {
  if (!ready.has(w)) {
    ready.add(w);
    await ensureAll(w.pool, w.schema);
    await addVat(w.pool, w.schema);
    await w.pool.query(
      `INSERT INTO ${w.schema}.tax_profiles (tenant, code, mapping) VALUES ('acme', 'bad', '{"fee":"NOPE"}')`,
    );
  }
  const { balances } = deps(w);
  for (const [i, id] of ids.entries()) {
    const taxProfile = bad.includes(id) ? 'bad' : 'uk';
    await addAccount(balances, w.pool, w.schema, { id, createdAt: '2026-11-01T00:00:00Z', taxProfile });
    await applyFee(balances, w.pool, w.schema, id, `fee:${id}`, 10_010_000_000 + i * 7_770_000);
    await balances.debit('acme', id, {
      opId: `sess:${id}`,
      charge: { unit: 'generic', units: 0, amountNano: 12_345_678 * (i + 1) },
      force: true,
    });
    await storeRecord(w.pool, w.schema, {
      record_id: `session:${id}:1`,
      account_id: id,
      cost_nano: 12_345_678 * (i + 1),
    });
  }
}

async function documents(w: World) {
  const r = await w.pool.query(
    `SELECT account_id, number, status, document_hash AS hash, prev_hash AS prev, canonical_json::text AS json,
            amount_due_nano::text AS due, issue_date::text AS issued
       FROM ${w.schema}.invoices ORDER BY account_id`,
  );
  return r.rows as { account_id: string; number: string; status: string; hash: string; due: string }[];
}

const numbers = (n: number) =>
  Array.from({ length: n }, (_, i) => `INV2026-${String(i + 1).padStart(6, '0')}`);

describe('a run that issues its documents at once', () => {
  it('gives the documents a draft finalized later gets: hash-equal, numbered alike, posted once', async () => {
    const [a, b] = worlds as [World, World];
    const ids = ['a1', 'a2', 'a3', 'a4', 'a5'];
    await build(a, ids);
    await build(b, ids);
    // Text COPY escapes (issue.ts writes by COPY): a tab, a line break and a backslash round-trip alike.
    const odd = 'Plan fee\t"x"\nline \\ back';
    for (const w of [a, b])
      await w.pool.query(`UPDATE ${w.schema}.charges SET description = $1 WHERE account_id = 'a1'`, [odd]);
    // a: drafts first (--no-finalize), finalized from the table by the next run.
    const drafted = await runBilling(deps(a), { tenant: 'acme', asOf, finalize: false });
    expect(drafted).toMatchObject({ status: 'done', counters: { drafted: 5, finalized: 0 } });
    expect(new Set((await documents(a)).map((d) => d.status))).toEqual(new Set(['draft']));
    const later = await runBilling(deps(a), { tenant: 'acme', asOf });
    expect(later).toMatchObject({ status: 'done', counters: { finalized: 5 } });
    // b: issued at once.
    const once = await runBilling(deps(b), { tenant: 'acme', asOf });
    expect(once).toMatchObject({ status: 'done', counters: { drafted: 5, finalized: 5 } });

    const got = await documents(b);
    expect(got).toEqual(await documents(a));
    expect(got.map((d) => d.number)).toEqual(numbers(5));
    const line = `SELECT l.description FROM ${b.schema}.invoice_lines l JOIN ${b.schema}.invoices i ON i.id = l.invoice_id
                   WHERE i.account_id = 'a1' AND l.kind = 'fee'`;
    expect((await b.pool.query(line)).rows).toEqual([{ description: odd }]);
    for (const w of [a, b])
      for (const d of got) expect(await moneyOf(deps(w).balances, d.account_id)).toBe(-BigInt(d.due));
    const periods = await b.pool.query(
      `SELECT DISTINCT status FROM ${b.schema}.bill_periods WHERE period_end <= '2026-12-01'`,
    );
    expect(periods.rows).toEqual([{ status: 'finalized' }]);
    const items = await b.pool.query(
      `SELECT DISTINCT step, outcome, (invoice_id IS NOT NULL) AS has FROM ${b.schema}.billing_run_items`,
    );
    expect(items.rows).toEqual([{ step: 'finalize', outcome: 'invoiced', has: true }]);
    const events = await b.pool.query(
      `SELECT count(*)::int AS n FROM ${b.schema}.events WHERE type = 'invoice.finalized'`,
    );
    expect(events.rows[0].n).toBe(5);
  });
});

/**
 * `posted` billed and in Redis with a 20.00 fee; `unposted` billed in PostgreSQL (the same fee) but
 * with no account in Redis yet: its posting fails, and its chunk rolls back.
 */
async function billedPair(w: World, posted: string, unposted: string) {
  const { balances } = deps(w);
  await addAccount(balances, w.pool, w.schema, {
    id: posted,
    createdAt: '2026-11-01T00:00:00Z',
    taxProfile: 'uk',
  });
  await applyFee(balances, w.pool, w.schema, posted, `fee:${posted}`, 20_000_000_000);
  await w.pool.query(
    `INSERT INTO ${w.schema}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, tax_profile, grace_hours, created_at)
     VALUES ('acme', $1, 'postpaid', 'GBP', 'UTC', 1, 'invoice', 'uk', 0, '2026-11-01T00:00:00Z')`,
    [unposted],
  );
  await w.pool.query(
    `INSERT INTO ${w.schema}.charges (tenant, account_id, op_id, kind, description, amount_nano, currency, event_time, status, stored_at)
     VALUES ('acme', $1, $2, 'fee', 'Plan fee', 20000000000, 'GBP', '2026-11-01T00:00:00Z', 'applied', now())`,
    [unposted, `fee:${unposted}`],
  );
}

/** The unposted account of billedPair made in Redis (its postings can land now). */
async function inRedis(w: World, id: string) {
  const { balances } = deps(w);
  await balances.createAccount(
    {
      tenant: 'acme',
      id,
      type: 'postpaid',
      currency: 'GBP',
      subject: id,
      subscriptions: [],
      creditLimitNano: 1e12,
    },
    `create-${id}`,
  );
  await balances.addBalance('acme', id, { id: 'main', unit: 'money', value: 0 }, `main-${id}`);
}

describe('a chunk issued at once', () => {
  it('parks a failing account and numbers the others of its chunk without a gap', async () => {
    const [w] = worlds as [World];
    const ids = ['c1', 'c2', 'c3', 'c4'];
    await build(w, ids, ['c2']);
    const r = await runBilling(deps(w, 4), { tenant: 'acme', asOf });
    expect(r).toMatchObject({ status: 'done', counters: { parked: 1, finalized: 3 } });
    const got = (await documents(w)).filter((d) => ids.includes(d.account_id));
    expect(got.map((d) => [d.account_id, d.number])).toEqual([
      ['c1', 'INV2026-000006'],
      ['c3', 'INV2026-000007'],
      ['c4', 'INV2026-000008'],
    ]);
    const series = await w.pool.query(
      `SELECT next_number::int AS n FROM ${w.schema}.invoice_series WHERE code = 'INV'`,
    );
    expect(series.rows[0].n).toBe(9);
  });

  it('gives its numbers back when it rolls back (a posting fails), and the rerun has no gap', async () => {
    const [, w] = worlds as [World, World];
    const { balances } = deps(w);
    // d2 is billed in PostgreSQL but has no account in Redis: its posting fails, its chunk rolls back.
    await billedPair(w, 'd1', 'd2');
    const failed = await runBilling(deps(w, 1), { tenant: 'acme', asOf });
    expect(failed.status).toBe('failed');
    const mine = async () =>
      (await documents(w)).filter((d) => d.account_id.startsWith('d')).map((d) => [d.account_id, d.number]);
    expect(await mine()).toEqual([['d1', 'INV2026-000006']]);
    const series = `SELECT next_number::int AS n FROM ${w.schema}.invoice_series WHERE code = 'INV'`;
    expect((await w.pool.query(series)).rows[0].n).toBe(7);

    await inRedis(w, 'd2');
    const again = await runBilling(deps(w, 1), { tenant: 'acme', asOf });
    expect(again).toMatchObject({ status: 'done', counters: { finalized: 1 } });
    expect(await mine()).toEqual([
      ['d1', 'INV2026-000006'],
      ['d2', 'INV2026-000007'],
    ]);
    // The fee never moved in Redis here (its row was written by hand): the posting is the tax alone.
    expect(await moneyOf(balances, 'd2')).toBe(-4_000_000_000n);
  });

  it('posts once a chunk rolled back after some of its postings landed, when it is issued again', async () => {
    const [, w] = worlds as [World, World];
    const { balances } = deps(w);
    // e1's posting lands, e2's fails (no account in Redis): the chunk rolls back with e1 posted.
    await billedPair(w, 'e1', 'e2');
    expect((await runBilling(deps(w, 1000), { tenant: 'acme', asOf })).status).toBe('failed');
    await inRedis(w, 'e2');
    expect(await runBilling(deps(w, 1000), { tenant: 'acme', asOf })).toMatchObject({ status: 'done' });
    // The fee (20.00) moved when charged, the tax (4.00) at issue — once, though issued twice.
    expect(await moneyOf(balances, 'e1')).toBe(-24_000_000_000n);
    expect(await moneyOf(balances, 'e2')).toBe(-4_000_000_000n);
  });

  it('leaves issued invoices closed to new lines, even in a transaction that touched them', async () => {
    const [w] = worlds as [World];
    const id = (await w.pool.query(`SELECT id FROM ${w.schema}.invoices WHERE account_id = 'c1'`)).rows[0].id;
    const line = `INSERT INTO ${w.schema}.invoice_lines (invoice_id, seq, kind, description, amount_nano, exact_nano, tax_nano)
                  VALUES ($1, 99, 'one_off', 'later', 1, 1, 0)`;
    await expect(w.pool.query(line, [id])).rejects.toThrow(/DOCUMENT_IMMUTABLE/);
    const c = await w.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`UPDATE ${w.schema}.invoices SET pdf_attempts = pdf_attempts + 1 WHERE id = $1`, [id]);
      await expect(c.query(line, [id])).rejects.toThrow(/DOCUMENT_IMMUTABLE/);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('checks the invoice of the lines once per statement: none refused, a deleted draft takes its lines', async () => {
    const [w] = worlds as [World];
    const s = w.schema;
    const line = `INSERT INTO ${s}.invoice_lines (invoice_id, seq, kind, description, amount_nano, exact_nano, tax_nano)
                  VALUES ($1, 1, 'one_off', 'x', 1, 1, 0)`;
    await expect(w.pool.query(line, ['00000000-0000-4000-8000-000000000000'])).rejects.toMatchObject({
      code: '23503',
    });
    const draft = await w.pool.query<{ id: string }>(
      `INSERT INTO ${s}.invoices (id, tenant, account_id, bill_seq, document_type, status, series, timezone,
         payment_terms_days, period_start, period_end, cutoff_at, currency, subtotal_nano, discount_nano, tax_nano,
         total_nano, amount_due_nano, seller, buyer, tax_summary)
       VALUES (gen_random_uuid(), 'acme', 'c1', NULL, 'invoice', 'draft', 'INV', 'UTC', 14, now(), now(), now(),
               'GBP', 1, 0, 0, 1, 1, '{}', '{}', '[]') RETURNING id`,
    );
    const id = draft.rows[0]!.id;
    await w.pool.query(line, [id]);
    await w.pool.query(`DELETE FROM ${s}.invoices WHERE id = $1`, [id]);
    const left = await w.pool.query(
      `SELECT count(*)::int AS n FROM ${s}.invoice_lines WHERE invoice_id = $1`,
      [id],
    );
    expect(left.rows[0].n).toBe(0);
  });

  it('refuses a bill period that already has a document (CONFLICT) and keeps nothing of the batch', async () => {
    const [w] = worlds as [World];
    const issue = (ids: string[]) =>
      inTransaction(w.pool, (c) =>
        issueDrafts(
          c,
          w.schema,
          'conflict',
          ids.map((id) => draftOf('conflict', id, 1)),
          asOf,
        ),
      );
    await issue(['k1']);
    await expect(issue(['k2', 'k1'])).rejects.toMatchObject({ code: 'CONFLICT' });
    const r = await w.pool.query(
      `SELECT account_id, number FROM ${w.schema}.invoices WHERE tenant = 'conflict' ORDER BY account_id`,
    );
    expect(r.rows).toEqual([{ account_id: 'k1', number: 'INV2026-000001' }]);
    const series = await w.pool.query(
      `SELECT next_number::int AS n FROM ${w.schema}.invoice_series WHERE tenant = 'conflict' AND code = 'INV'`,
    );
    expect(series.rows).toEqual([{ n: 2 }]);
  });
});
