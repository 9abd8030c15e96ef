/**
 * Parking (billing.md E.6 #18): an account whose bill cannot be drafted (here: its tax profile maps
 * usage to a code with no rate) is parked with a machine-readable code; the run still finishes done
 * and invoices the others; once the cause is fixed and the account unparked, the same asOf again
 * invoices it.
 */
import { describe, expect, it } from 'vitest';
import { unpark } from '../../../src/billing/run/accounts.js';
import { runBilling } from '../../../src/billing/run/run.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, moneyOf, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2026-12-05T00:00:00Z'));
const asOf = new Date('2026-12-01T00:00:00Z');

describe('a parked account', () => {
  it('is parked with its code, the run finishes, and after unpark it is invoiced', async () => {
    await ensureAll(pool, schema);
    await addVat(pool, schema);
    await pool.query(
      `INSERT INTO ${schema}.tax_profiles (tenant, code, mapping) VALUES ('acme', 'bad', '{"fee":"NOPE"}')`,
    );
    await addAccount(deps.balances, pool, schema, {
      id: 'good',
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: 'uk',
    });
    await addAccount(deps.balances, pool, schema, {
      id: 'pk',
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: 'bad',
    });
    for (const id of ['good', 'pk'])
      await applyFee(deps.balances, pool, schema, id, `fee:${id}`, 15_000_000_000);

    const first = await runBilling(deps, { tenant: 'acme', asOf });
    expect(first).toMatchObject({ status: 'done', counters: { parked: 1, finalized: 1 } });
    const items = await pool.query(
      `SELECT account_id, outcome, code FROM ${schema}.billing_run_items ORDER BY account_id`,
    );
    expect(items.rows).toEqual([
      { account_id: 'good', outcome: 'invoiced', code: null },
      { account_id: 'pk', outcome: 'parked', code: 'NO_TAX_RATE' },
    ]);
    const parked = await pool.query(
      `SELECT parked_code FROM ${schema}.billing_accounts WHERE account_id = 'pk'`,
    );
    expect(parked.rows[0].parked_code).toBe('NO_TAX_RATE');
    // Nothing was written for it: no invoice, no posting.
    expect(
      (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.invoices WHERE account_id = 'pk'`)).rows[0]
        .n,
    ).toBe(0);
    expect(await moneyOf(deps.balances, 'pk')).toBe(-15_000_000_000n);

    // A later run skips it while parked.
    expect((await runBilling(deps, { tenant: 'acme', asOf })).counters.parked).toBe(0);
    await pool.query(
      `INSERT INTO ${schema}.taxes (tenant, code, valid_from, rate) VALUES ('acme', 'NOPE', '2020-01-01', 0.1)`,
    );
    expect(await unpark(pool, schema, 'acme', 'pk')).toBe(true);
    const again = await runBilling(deps, { tenant: 'acme', asOf });
    expect(again).toMatchObject({ status: 'done', counters: { drafted: 1, finalized: 1, parked: 0 } });
    const inv = await pool.query(
      `SELECT total_nano::text AS total, status FROM ${schema}.invoices WHERE account_id = 'pk'`,
    );
    expect(inv.rows[0]).toEqual({ total: '16500000000', status: 'finalized' });
    expect(await moneyOf(deps.balances, 'pk')).toBe(-16_500_000_000n);
  });
});
