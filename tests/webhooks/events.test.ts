/**
 * Account events: the per-account sequence is gapless under concurrent writers, rollbacks and a
 * fact recorded twice, whoever writes the row (appendEvent or a producer's own INSERT); the pull API
 * pages in keyset order, never skips an event whose transaction commits late, filters by type and
 * account, and answers one tenant's events only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { appendEvent } from '../../src/webhooks/append.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { auth, emit, webhooksApp } from './support.js';

const { pool, schema } = testPostgres();
let h: Awaited<ReturnType<typeof webhooksApp>>;

beforeAll(async () => {
  await ensureWebhooksSchema(pool, schema);
  h = await webhooksApp(pool, schema);
});

const sequences = async (tenant: string, account: string) =>
  (
    await pool.query<{ sequence: string }>(
      `SELECT sequence FROM ${schema}.events WHERE tenant = $1 AND account_id = $2 ORDER BY sequence`,
      [tenant, account],
    )
  ).rows.map((r) => Number(r.sequence));

describe('the per-account sequence', () => {
  it('is gapless with concurrent writers, rolled-back transactions and a fact recorded twice', async () => {
    let committed = 0;
    const writer = async (w: number) => {
      for (let i = 0; i < 12; i++) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          await appendEvent(c, schema, {
            tenant: 'seq',
            type: 'balance.low',
            accountId: 'acc',
            payload: { w, i },
          });
          // The same fact again (its own id): recorded once, no number taken.
          await appendEvent(c, schema, {
            tenant: 'seq',
            type: 'invoice.paid',
            accountId: 'acc',
            payload: {},
            id: 'paid:inv-1',
          });
          if (i % 3 === 0) await c.query('ROLLBACK');
          else {
            await c.query('COMMIT');
            committed++;
          }
        } finally {
          c.release();
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    const seqs = await sequences('seq', 'acc');
    expect(seqs).toEqual(Array.from({ length: committed + 1 }, (_, i) => i + 1));
  });

  it('is given to rows a producer inserts itself (the documents’ journal, the renewals)', async () => {
    await pool.query(
      `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
       ON CONFLICT (id) DO NOTHING`,
      [
        ['f:1', 'f:2', 'f:1'],
        ['raw', 'raw', 'raw'],
        ['invoice.finalized', 'invoice.finalized', 'invoice.finalized'],
        ['r1', 'r1', 'r1'],
        [new Date(), new Date(), new Date()],
        ['{}', '{}', '{}'],
      ],
    );
    expect(await sequences('raw', 'r1')).toEqual([1, 2]);
    const [again] = await emit(pool, schema, [{ tenant: 'raw', accountId: 'r1', id: 'f:2' }]);
    expect(again).toEqual({ id: 'f:2', sequence: 2, created: false });
    // Each tenant numbers its own accounts; tenant-wide events have no sequence.
    const [other, wide] = await emit(pool, schema, [{ tenant: 'raw2', accountId: 'r1' }, { tenant: 'raw2' }]);
    expect([other!.sequence, wide!.sequence]).toEqual([1, null]);
  });
});

describe('GET /v1/account-events', () => {
  const pull = (query: string, key = 'demo-billing') =>
    h.app.inject({ url: `/v1/account-events?${query}`, headers: auth(key) });

  /** Pages from `after` until `want` events have been seen (other sessions' transactions may delay them). */
  async function pages(query: string, want: number, after = '') {
    const seen: { id: string; sequence: number | null; type: string; accountId: string | null }[] = [];
    let cursor = after;
    for (let i = 0; i < 400 && seen.length < want; i++) {
      const r = await pull(`${query}&limit=2${cursor ? `&after=${cursor}` : ''}`);
      expect(r.statusCode).toBe(200);
      const body = r.json();
      seen.push(...body.events);
      cursor = body.next;
      if (body.events.length === 0) await new Promise((res) => setTimeout(res, 25));
    }
    return { seen, cursor };
  }

  it('pages through a tenant’s events in order, filtered by type and account', async () => {
    const made = await emit(pool, schema, [
      { tenant: 'acme', type: 'balance.low', accountId: 'p1', payload: { balance: '1.00' } },
      { tenant: 'acme', type: 'invoice.paid', accountId: 'p2' },
      { tenant: 'acme', type: 'balance.low', accountId: 'p1' },
      { tenant: 'globex', type: 'balance.low', accountId: 'p1' },
      { tenant: 'acme', type: 'balance.exhausted', accountId: 'p1' },
    ]);
    const all = await pages('', 4);
    expect(all.seen.map((e) => e.id)).toEqual([made[0]!.id, made[1]!.id, made[2]!.id, made[4]!.id]);
    expect(all.seen[0]).toMatchObject({
      type: 'balance.low',
      accountId: 'p1',
      sequence: 1,
      data: { balance: '1.00' },
    });
    expect((await pages('type=balance.low', 2)).seen.map((e) => e.id)).toEqual([made[0]!.id, made[2]!.id]);
    expect((await pages('account=p1', 3)).seen.map((e) => e.sequence)).toEqual([1, 2, 3]);
    const globex = (await pull('', 'globex-billing')).json();
    expect(globex.events.map((e: { id: string }) => e.id)).toEqual([made[3]!.id]);
  });

  it('never skips an event whose transaction commits after a later one', async () => {
    let start = '0.0';
    for (
      let body = (await pull('limit=1000')).json();
      body.events.length > 0;
      body = (await pull(`limit=1000&after=${start}`)).json()
    )
      start = body.next;
    const slow = await pool.connect();
    try {
      await slow.query('BEGIN');
      const first = await appendEvent(slow, schema, {
        tenant: 'acme',
        type: 'balance.low',
        accountId: 'late',
        payload: {},
      });
      const [second] = await emit(pool, schema, [
        { tenant: 'acme', type: 'balance.low', accountId: 'late2' },
      ]);
      // The second is committed, but not handed out ahead of the first, which is still open.
      const early = (await pull(`after=${start}`)).json();
      expect(early.events.map((e: { id: string }) => e.id)).not.toContain(second!.id);
      await slow.query('COMMIT');
      const { seen } = await pages('', 2, start);
      expect(seen.map((e) => e.id)).toEqual([first.id, second!.id]);
    } finally {
      slow.release();
    }
  });

  it('refuses an unknown type or a malformed cursor with their cause', async () => {
    expect((await pull('type=invoice.payed')).json()).toMatchObject({
      status: 400,
      cause: 'UNKNOWN_EVENT_TYPE',
    });
    expect((await pull('after=abc')).json()).toMatchObject({ status: 400, cause: 'INVALID_REQUEST' });
    expect((await pull('limit=0')).json()).toMatchObject({ status: 400, cause: 'INVALID_REQUEST' });
  });
});
