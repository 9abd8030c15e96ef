/**
 * Claims of concurrent redemptions go out together (src/vouchers/claims.ts): fewer statements than
 * redemptions, each redemption still with its own answer. Within one statement a PIN named twice
 * has one winner, and a reference taken twice fails only the claim that took it second (the
 * statement is sent again claim by claim); money lands once for each voucher won.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { claim } from '../../src/vouchers/claims.js';
import { claimMany } from '../../src/vouchers/voucher-rows.js';
import { pinHash } from '../../src/vouchers/keys.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import type { Harness } from '../payments/support.js';
import { batchWithPins, mainNano, newAccount, TEST_KEYS, voucherHarness } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let h: Harness;
const GBP = 1_000_000_000;
const money = { amount: '1.00', currency: 'GBP' };
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `c${i}`);

/** The claiming statements sent while `work` runs. */
async function claimStatements(work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const p = pool as unknown as { query: pg.Pool['query'] };
  const query = p.query;
  p.query = ((q: string | { text: string }, ...rest: unknown[]) => {
    if ((typeof q === 'string' ? q : q.text).includes(`UPDATE ${schema}.vouchers v SET status = CASE`)) n++;
    return (query as (...a: unknown[]) => unknown).call(pool, q, ...rest);
  }) as pg.Pool['query'];
  try {
    await work();
  } finally {
    p.query = query;
  }
  return n;
}

const claimOf = (accountId: string, pin: string, reference: string | null) => ({
  tenant: 'acme',
  accountId,
  hash: pinHash(TEST_KEYS.pinKey, 'acme', pin),
  reference,
  at: new Date(),
  currency: 'GBP',
  balanceId: 'main',
});

const redeem = (account: string, pin: string) =>
  h.call('acme-billing', 'POST', `/v1/accounts/${account}/vouchers/redeem`, { pin });

beforeAll(async () => {
  h = await voucherHarness(pool, schema, redis, prefix);
  for (const id of ACCOUNTS) await newAccount(h.balances, 'acme', id, { type: 'prepaid' });
});

describe('concurrent redemptions', () => {
  it('share claiming statements, and each gets its own voucher and money', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'cl-1', count: 20, value: money });
    const before = await Promise.all(ACCOUNTS.map((a) => mainNano(h.balances, 'acme', a)));
    let answers: Awaited<ReturnType<typeof redeem>>[] = [];
    const statements = await claimStatements(async () => {
      answers = await Promise.all(ACCOUNTS.map((a, i) => redeem(a, pins[i]![1])));
    });
    expect(answers.map((r) => r.statusCode)).toEqual(ACCOUNTS.map(() => 200));
    expect(answers.map((r) => r.json().serial)).toEqual(pins.map(([serial]) => serial));
    expect(statements).toBeLessThan(ACCOUNTS.length);
    const after = await Promise.all(ACCOUNTS.map((a) => mainNano(h.balances, 'acme', a)));
    expect(after.map((x, i) => x - before[i]!)).toEqual(ACCOUNTS.map(() => GBP));
  });

  it('with one reference for two PINs of one account in one statement: one wins, the other is a conflict, others unharmed', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'cl-2', count: 3, value: money });
    const c = (accountId: string, pin: string) => claimOf(accountId, pin, 'same-ref');
    // Asked in one turn of the event loop: gathered into one statement, which fails on the reference.
    const settled = await Promise.allSettled([
      claim(pool, schema, c('c0', pins[0]![1])),
      claim(pool, schema, c('c0', pins[1]![1])),
      claim(pool, schema, c('c1', pins[2]![1])),
    ]);
    const [a, b, other] = settled;
    expect([a!.status, b!.status].sort()).toEqual(['fulfilled', 'rejected']);
    const lost = (a!.status === 'rejected' ? a : b) as PromiseRejectedResult;
    expect((lost.reason as { code?: string }).code).toBe('23505');
    expect(other).toMatchObject({ status: 'fulfilled', value: { serial: pins[2]![0], account_id: 'c1' } });
    const left = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.vouchers WHERE serial = ANY($1) AND status = 'active'`,
      [[pins[0]![0], pins[1]![0]]],
    );
    expect(left.rows[0].n).toBe(1);
  });
});

describe('one claiming statement', () => {
  it('naming one PIN for two accounts claims it once, and answers each in order', async () => {
    const { pins } = await batchWithPins(h, 'acme', { reference: 'cl-3', count: 2, value: money });
    const c = (accountId: string, pin: string) => claimOf(accountId, pin, null);
    const won = await claimMany(pool, schema, [
      c('c2', pins[0]![1]),
      c('c3', pins[0]![1]),
      c('c4', pins[1]![1]),
    ]);
    expect(won.filter((x) => x?.serial === pins[0]![0])).toHaveLength(1);
    expect(won[2]).toMatchObject({ serial: pins[1]![0], account_id: 'c4', status: 'redeemed' });
    const events = await pool.query(`SELECT account_id FROM ${schema}.events WHERE id = $1`, [
      `voucher.redeemed:acme:${pins[0]![0]}`,
    ]);
    expect(events.rows).toEqual([{ account_id: (won[0] ?? won[1])!.account_id }]);
  });
});
