/**
 * Rerating after a tariff change: the stored CDRs of a period (optionally one account) are priced
 * again on the worker pool; each row gets its new price and breakdown, and only the difference moves
 * on the balance — a debit when the price went up, a refund when it went down.
 *
 * Idempotent: the balance operation id carries the CDR id and how many times it was rerated (a
 * counter in its row, bumped with the new price), so a rerun after a crash replays a difference
 * already moved, a rerun with the same tariff finds nothing to move, and rerating back and forth
 * moves the money every time.
 * CDRs that bundles paid (money charged below the price) are re-priced but not re-charged: what a
 * bundle covered has no money price to correct (reported as `skippedBundles`).
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import type { RatingPool } from './pool.js';

export interface RerateCounters {
  examined: number;
  changed: number;
  unchanged: number;
  skippedBundles: number;
  failed: Record<string, number>;
  /** Net money moved: positive = more charged, negative = refunded. */
  deltaNano: number;
}

interface Row {
  cdr_id: string;
  tenant: string;
  account_id: string;
  category: string;
  service: string;
  destination: string;
  answer_time: Date;
  usage: string;
  cost_nano: string;
  charged_nano: string;
  rerated: number;
}

export async function rerateCdrs(
  deps: { pool: Pool; schema: string; rating: RatingPool; balances: BalanceStore },
  range: { from: string; to: string; tenant?: string; accountId?: string; batchSize?: number },
): Promise<RerateCounters> {
  const c: RerateCounters = {
    examined: 0,
    changed: 0,
    unchanged: 0,
    skippedBundles: 0,
    failed: {},
    deltaNano: 0,
  };
  const size = range.batchSize ?? 2000;
  let after = '';
  for (;;) {
    const { rows } = await deps.pool.query<Row>(
      `SELECT cdr_id, tenant, account_id, category, service, destination, answer_time, usage::text, cost_nano::text, charged_nano::text, rerated
         FROM ${deps.schema}.rated_cdrs
        WHERE answer_time >= $1 AND answer_time < $2 AND cdr_id > $3
          AND ($4::text IS NULL OR tenant = $4) AND ($5::text IS NULL OR account_id = $5)
        ORDER BY cdr_id LIMIT $6`,
      [range.from, range.to, after, range.tenant ?? null, range.accountId ?? null, size],
    );
    if (rows.length === 0) return c;
    after = rows[rows.length - 1]!.cdr_id;
    await rerateBatch(deps, rows, c);
  }
}

async function rerateBatch(
  deps: { pool: Pool; schema: string; rating: RatingPool; balances: BalanceStore },
  rows: Row[],
  c: RerateCounters,
): Promise<void> {
  const subjects = new Map<string, string>();
  for (const r of rows) {
    if (!subjects.has(`${r.tenant}\u0000${r.account_id}`))
      subjects.set(
        `${r.tenant}\u0000${r.account_id}`,
        (await deps.balances.accountInfo(r.tenant, r.account_id))?.subject ?? r.account_id,
      );
  }
  const outcomes = await deps.rating.rate(
    rows.map((r) => ({
      tenant: r.tenant,
      category: r.category,
      subject: subjects.get(`${r.tenant}\u0000${r.account_id}`)!,
      destination: r.destination,
      startTime: r.answer_time.toISOString(),
      usage: Number(r.usage),
      tor: r.service,
    })),
  );
  await Promise.all(
    rows.map(async (r, i) => {
      c.examined++;
      const o = outcomes[i]!;
      if (!o.ok) return void (c.failed[o.code] = (c.failed[o.code] ?? 0) + 1);
      const oldCost = Number(r.cost_nano);
      const newCost = Number(o.costNano);
      if (newCost === oldCost) return void c.unchanged++;
      const paidByMoney = Number(r.charged_nano) === oldCost;
      const delta = newCost - oldCost;
      if (paidByMoney) {
        const opId = `rerate:${r.cdr_id}:${r.rerated}`;
        const moved =
          delta > 0
            ? await deps.balances.debit(r.tenant, r.account_id, {
                opId,
                kind: 'adjust',
                charge: { unit: 'generic', units: 0, amountNano: delta },
              })
            : await refund(deps.balances, r.tenant, r.account_id, opId, -delta);
        if (moved.code !== 'OK') return void (c.failed[moved.code] = (c.failed[moved.code] ?? 0) + 1);
        c.deltaNano += delta;
      } else c.skippedBundles++;
      await deps.pool.query(
        `UPDATE ${deps.schema}.rated_cdrs SET cost_nano = $1, charged_nano = charged_nano + $2, breakdown = $3, rated_usage = $4,
                rerated = rerated + 1
          WHERE cdr_id = $5 AND answer_time = $6`,
        [
          newCost,
          paidByMoney ? delta : 0,
          JSON.stringify(o.breakdown),
          String(o.ratedUsage),
          r.cdr_id,
          r.answer_time,
        ],
      );
      c.changed++;
    }),
  );
}

async function refund(
  balances: BalanceStore,
  tenant: string,
  accountId: string,
  opId: string,
  amountNano: number,
) {
  const wallet = (await balances.getAccount(tenant, accountId))?.balances
    .filter((b) => b.unit === 'money')
    .sort((a, b) => b.weight - a.weight)[0];
  if (!wallet) return { code: 'BALANCE_NOT_FOUND' as const };
  return balances.credit(tenant, accountId, {
    opId,
    balanceId: wallet.id,
    shared: wallet.shared,
    amount: amountNano,
    kind: 'refund',
  });
}
