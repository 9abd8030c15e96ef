/** The ledger reaches PostgreSQL (through the outbox) in order, once, and always sums to the balances. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema, ledgerTable } from '../../src/balances/ledger.js';
import { drainOutboxes } from '../../src/storage/outbox.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { runStep } from './step-helpers.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const store = createBalanceStore({ redis, keyPrefix: prefix, now: () => Date.UTC(2026, 10, 20) });

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
});

async function sums(): Promise<Map<string, number>> {
  const r = await pool.query<{ account_id: string; balance_id: string; total: string }>(
    `SELECT account_id, balance_id, sum(delta)::text AS total FROM ${ledgerTable(schema)} GROUP BY 1, 2`,
  );
  return new Map(r.rows.map((x) => [`${x.account_id}/${x.balance_id}`, Number(x.total)]));
}

describe('ledger drain', () => {
  it('stores every movement once, and the sum of the ledger equals the balance', async () => {
    await store.createAccount({ tenant: 't', id: 'a', type: 'prepaid', currency: 'EUR', subject: 'a' }, 'c1');
    await store.addBalance('t', 'a', { id: 'main', unit: 'money', value: 500 }, 'b1');
    await store.addBalance('t', 'a', { id: 'mins', unit: 'voice', value: 60 }, 'b2');
    await store.credit('t', 'a', { opId: 'k1', balanceId: 'main', amount: 250 });
    await store.debit('t', 'a', { opId: 'd1', charge: { unit: 'voice', units: 90, amountNano: 90 } });
    const sms = (amountNano: number) => ({ unit: 'sms' as const, units: 1, amountNano });
    await runStep(store, 't', 'a', 'r1', [
      { verb: 'reserve', reservationId: 'res', expiresMs: Date.now() + 60_000, charge: sms(100) },
    ]);
    await runStep(store, 't', 'a', 'c2', [{ verb: 'settle', reservationId: 'res', charge: sms(40) }]);

    // Six operations, eight movements (the debit takes minutes and money; the settle releases and takes).
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix, batchSize: 2 })).toBe(6);
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })).toBe(0);
    const view = (await store.getAccount('t', 'a'))!;
    const ledger = await sums();
    for (const b of view.balances) expect(ledger.get(`a/${b.id}`), b.id).toBe(b.value);
    expect(view.balances.map((b) => [b.id, b.value])).toEqual([
      ['main', 500 + 250 - 30 - 40],
      ['mins', 0],
    ]);
    const kinds = await pool.query<{ kind: string }>(
      `SELECT kind FROM ${ledgerTable(schema)} ORDER BY entry_id, seq`,
    );
    expect(kinds.rows.map((r) => r.kind)).toEqual([
      'create',
      'create',
      'topup',
      'debit',
      'debit',
      'reserve',
      'release',
      'commit',
    ]);
  });

  it('a drain interrupted after the insert re-inserts nothing', async () => {
    await store.credit('t', 'a', { opId: 'k2', balanceId: 'main', amount: 1 });
    // The drainer dies after storing the rows and before trimming the stream.
    const crashing = new Proxy(redis, {
      get: (target, name) =>
        name === 'xdel' ? () => Promise.reject(new Error('killed')) : Reflect.get(target, name),
    });
    await expect(drainOutboxes({ redis: crashing, pool, schema, keyPrefix: prefix })).rejects.toThrow(
      'killed',
    );
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })).toBe(1);
    const count = await pool.query(
      `SELECT count(*)::int AS n FROM ${ledgerTable(schema)} WHERE op_id = 'k2'`,
    );
    expect(count.rows[0].n).toBe(1);
    expect((await sums()).get('a/main')).toBe((await store.getAccount('t', 'a'))!.balances[0]!.value);
  });

  it('stores many accounts in one round, and finds an outbox whose dirty mark was lost', async () => {
    for (const id of ['m1', 'm2', 'm3']) {
      await store.createAccount(
        { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id },
        `c-${id}`,
      );
      await store.addBalance('t', id, { id: 'main', unit: 'money', value: 10 }, `b-${id}`);
    }
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })).toBe(3); // a balance each
    await store.credit('t', 'm1', { opId: 'lost', balanceId: 'main', amount: 5 });
    await redis.del(`${prefix}outbox:dirty`); // the mark is lost (a crash right after the write)
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix })).toBe(0);
    expect(await drainOutboxes({ redis, pool, schema, keyPrefix: prefix, full: true })).toBe(1);
    expect((await sums()).get('m1/main')).toBe(15);
  });
});
