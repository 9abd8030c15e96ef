/**
 * Reconciliation of shared groups (check.ts rule 3) on real Redis and PostgreSQL: a postpaid member
 * whose usage its group's money paid reconciles (what the group paid counts as its own money against
 * its documents), the group's balances equal the group's ledger; a group ledger row lost is reported
 * on the group with its exact amount, on the member it paid for, and the summary is not clean.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../../src/billing/reconcile/reconcile.js';
import { drainOutboxes } from '../../../src/storage/outbox.js';
import { testPostgres } from '../../support/postgres.js';
import { testRedis } from '../../support/redis.js';
import { ensureAll, runDeps, storeRecord } from '../run/support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.parse('2027-01-02T00:00:00Z'));
const { balances } = deps;
const drain = () => drainOutboxes({ redis, pool, schema, keyPrefix: prefix, full: true });
const check = () => reconcile({ pool, schema, balances }, 'acme');

/** A postpaid member of group `fam` (own main balance at 0) with its billing profile. */
async function member(id: string) {
  await balances.createAccount(
    {
      tenant: 'acme',
      id,
      type: 'postpaid',
      currency: 'GBP',
      subject: id,
      subscriptions: [],
      creditLimitNano: 1_000_000_000_000,
      sharedGroup: 'fam',
    },
    `create-${id}`,
  );
  await balances.addBalance('acme', id, { id: 'main', unit: 'money', value: 0 }, `main-${id}`);
  await pool.query(
    `INSERT INTO ${schema}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, tax_profile, grace_hours, created_at)
     VALUES ('acme', $1, 'postpaid', 'GBP', 'UTC', 1, 'invoice', NULL, 0, '2026-10-01T00:00:00Z')`,
    [id],
  );
}

beforeAll(async () => {
  await ensureAll(pool, schema);
  await member('ga');
  await member('gb');
  // The family pot: heavier than the members' own wallets, so it pays first.
  await balances.addBalance(
    'acme',
    'ga',
    { id: 'pot', unit: 'money', value: 10_000_000_000, weight: 100, shared: true },
    'pot-fam',
  );
  // ga's session: 2.00 GBP, all of it from the pot.
  const r = await balances.debit('acme', 'ga', {
    opId: 'sess:ga:1',
    charge: { unit: 'generic', units: 0, amountNano: 2_000_000_000 },
    force: true,
  });
  expect(r.code).toBe('OK');
  await storeRecord(pool, schema, { record_id: 'sess:ga:1', account_id: 'ga', cost_nano: 2_000_000_000 });
  await drain();
});

describe('reconciliation of shared groups', () => {
  it('reconciles a member its group paid for, and the group against its ledger', async () => {
    const s = await check();
    expect(s).toMatchObject({ accounts: 2, ok: 2, differing: 0, groupsDiffering: 0, clean: true });
    expect(s.groups).toEqual([
      { group: 'fam', members: ['ga', 'gb'], ok: true, paidForMembersNano: '-2000000000', differences: [] },
    ]);
    const ga = s.reports.find((r) => r.accountId === 'ga')!;
    expect(ga).toMatchObject({ sharedGroup: 'fam', ok: true });
    // Own wallet untouched; the pot's 2.00 counts as ga's money against its 2.00 unbilled.
    expect(ga.postpaid).toMatchObject({
      moneyNano: '-2000000000',
      groupPaidNano: '-2000000000',
      billableNano: '2000000000',
    });
  });

  it('reports a group ledger row lost: on the group, exactly, and on the member it paid for', async () => {
    const lost = await pool.query(
      `DELETE FROM ${schema}.balance_ledger WHERE tenant = 'acme' AND scope = 'g' AND op_id = 'sess:ga:1' RETURNING delta::text`,
    );
    expect(lost.rows).toEqual([{ delta: '-2000000000' }]);
    const s = await check();
    expect(s).toMatchObject({ clean: false, groupsDiffering: 1, differing: 1 });
    expect(s.groups[0]!.differences).toEqual([
      expect.objectContaining({
        check: 'group',
        balanceId: 'pot',
        expectedNano: 10_000_000_000n,
        actualNano: 8_000_000_000n,
        differenceNano: -2_000_000_000n,
        reason: 'LEDGER_DIFFERS_FROM_REDIS',
      }),
    ]);
    const ga = s.reports.find((r) => r.accountId === 'ga')!;
    expect(ga.differences).toEqual([
      expect.objectContaining({ check: 'postpaid', differenceNano: 2_000_000_000n }),
    ]);
  });
});
