/**
 * The detector appends a pass's events in one statement (appendEvents), in the pass's transaction:
 * many accounts crossing many thresholds cost one INSERT, each account's sequence stays gapless and
 * in the order of its movements (auto top-up's events among the rules'). appendEvents itself: an id
 * already stored or given twice is appended once and takes no number.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { detectOnce } from '../../src/notifications/detect.js';
import { saveAutoTopUp } from '../../src/notifications/autotopup.js';
import { ruleFromBody } from '../../src/notifications/rules.js';
import { ensureNotificationsSchema } from '../../src/notifications/schema.js';
import { saveRule } from '../../src/notifications/store.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { appendEvents } from '../../src/webhooks/append.js';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { catchUp, CATCHING_UP, ledgerVisible } from '../support/catch-up.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const store = createBalanceStore({ redis, keyPrefix: prefix });
const NANO = 1_000_000_000;
const groupOf = async () => null;

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
});

/** The statements inserting events that the detector's connections sent while `work` ran. */
async function eventInserts(work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const p = pool as unknown as { connect: () => Promise<pg.PoolClient> };
  const connect = p.connect;
  p.connect = async () => {
    const c = await connect.call(pool);
    const query = c.query;
    c.query = ((q: string | { text: string }, ...rest: unknown[]) => {
      if ((typeof q === 'string' ? q : q.text).includes(`INSERT INTO ${schema}.events`)) n++;
      return (query as (...a: unknown[]) => unknown).call(c, q, ...rest);
    }) as typeof c.query;
    const release = c.release;
    c.release = (...a: Parameters<typeof release>) => {
      c.query = query;
      c.release = release;
      return release.apply(c, a);
    };
    return c;
  };
  try {
    await work();
  } finally {
    p.connect = connect;
  }
  return n;
}

describe('a detector pass', CATCHING_UP, () => {
  it('appends all its events in one statement, each account in the order of its movements', async () => {
    const accounts = ['a1', 'a2', 'a3', 'a4', 'a5'];
    for (const id of accounts) {
      await store.createAccount(
        { tenant: 'n', id, type: 'prepaid', currency: 'EUR', subject: id },
        `c-${id}`,
      );
      await store.addBalance('n', id, { id: 'main', unit: 'money', value: 10 * NANO }, `b-${id}`);
    }
    await saveRule(pool, schema, 'n', ruleFromBody('low5', { kind: 'money_below', amount: '5' }));
    await saveRule(pool, schema, 'n', ruleFromBody('empty', { kind: 'money_exhausted' }));
    await saveAutoTopUp(pool, schema, 'n', 'a1', {
      balanceId: 'main',
      thresholdNano: 3n * BigInt(NANO),
      amountNano: 10n * BigInt(NANO),
      targetNano: null,
      maxPerDay: 5,
      maxPerMonth: 10,
      reference: 'at-1',
    });
    let ops = 0;
    for (let i = 0; i < 10; i++)
      for (const id of accounts)
        await store.debit('n', id, {
          opId: `d${++ops}`,
          charge: { unit: 'generic', units: 0, amountNano: NANO },
        });
    while ((await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })) > 0);
    // One pass reads all 50 movements: 10 crossings and a top-up request (once the shared server's
    // other transactions let it see them all).
    await ledgerVisible(pool, schema);
    const inserts = await eventInserts(() => detectOnce({ pool, schema, groupOf, batchSize: 1000 }));
    await catchUp({ pool, schema, groupOf, batchSize: 1000 });
    expect(inserts).toBe(1);
    const r = await pool.query<{ account_id: string; sequence: string; type: string }>(
      `SELECT account_id, sequence, type FROM ${schema}.events WHERE tenant = 'n' ORDER BY account_id, sequence`,
    );
    const of = (id: string) => r.rows.filter((e) => e.account_id === id);
    expect(of('a1').map((e) => [Number(e.sequence), e.type])).toEqual([
      [1, 'balance.low'],
      [2, 'autotopup.requested'],
      [3, 'balance.exhausted'],
    ]);
    for (const id of accounts.slice(1))
      expect(of(id).map((e) => [Number(e.sequence), e.type])).toEqual([
        [1, 'balance.low'],
        [2, 'balance.exhausted'],
      ]);
  });
});

describe('appendEvents', () => {
  it('appends an id once whether stored before or given twice, numbering only what it appends', async () => {
    const c = await pool.connect();
    try {
      const e = (id: string) => ({
        tenant: 'x',
        accountId: 'acc',
        id,
        type: 'balance.low' as const,
        payload: { id },
      });
      const first = await appendEvents(c, schema, [e('e1'), e('e2')]);
      expect(first.map((x) => [x.id, x.sequence, x.created])).toEqual([
        ['e1', 1, true],
        ['e2', 2, true],
      ]);
      const second = await appendEvents(c, schema, [e('e2'), e('e3'), e('e3'), e('e4')]);
      expect(second.map((x) => [x.id, x.sequence, x.created])).toEqual([
        ['e2', 2, false],
        ['e3', 3, true],
        ['e3', 3, false],
        ['e4', 4, true],
      ]);
      expect(await appendEvents(c, schema, [])).toEqual([]);
    } finally {
      c.release();
    }
  });
});
