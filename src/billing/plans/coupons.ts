/**
 * Coupons (percent or fixed per currency; once, repeating n periods, or forever; optional plan
 * filter, most redemptions, expiry) and their redemptions: one per account per coupon, applied to
 * fee charges before tax in redemption order (src/billing/core/discounts.ts does the arithmetic).
 */
import type { Pool, PoolClient } from 'pg';
import { MoneyFormatError, parseMoney } from '../core/currency.js';
import type { Coupon } from '../core/discounts.js';
import { requestHash } from './db.js';
import { PlansError } from './errors.js';

export interface CouponBody {
  kind: 'percent' | 'fixed';
  /** percent: "0" to "100", at most 4 decimals. */
  percent?: string;
  /** fixed: per currency, decimal strings. */
  amounts?: Record<string, string>;
  duration: 'once' | 'repeating' | 'forever';
  periods?: number;
  plans?: string[];
  maxRedemptions?: number;
  expiresAt?: string;
}

/** "12.5" → 12_500_000n (percent × 10^6), or undefined when it is not a percent from 0 to 100. */
export function percentMicros(text: string): bigint | undefined {
  const m = /^(\d{1,3})(?:\.(\d{1,4}))?$/.exec(text);
  if (!m) return undefined;
  const v = BigInt(m[1]! + (m[2] ?? '').padEnd(6, '0'));
  return v <= 100_000_000n ? v : undefined;
}

function check(body: CouponBody): void {
  const bad = (param: string, reason: string) => {
    throw new PlansError('INVALID_REQUEST', `${param} ${reason}`, { invalidParams: [{ param, reason }] });
  };
  if (body.kind === 'percent' && (body.percent === undefined || percentMicros(body.percent) === undefined))
    bad('/percent', 'must be a percent from 0 to 100 with at most 4 decimals');
  if (body.kind === 'fixed') {
    if (!body.amounts || Object.keys(body.amounts).length === 0)
      bad('/amounts', 'must give an amount per currency');
    for (const [cur, amount] of Object.entries(body.amounts ?? {})) {
      try {
        parseMoney(amount, cur);
      } catch (err) {
        if (!(err instanceof MoneyFormatError)) throw err;
        bad(`/amounts/${cur}`, err.message);
      }
    }
  }
  if (body.duration === 'repeating' && !body.periods) bad('/periods', 'is required for a repeating coupon');
  if (body.expiresAt !== undefined && Number.isNaN(Date.parse(body.expiresAt)))
    bad('/expiresAt', 'is not a time');
}

export async function putCoupon(pool: Pool, schema: string, tenant: string, code: string, body: CouponBody) {
  check(body);
  const r = await pool.query<{ body: CouponBody; redemptions: number }>(
    `SELECT body, redemptions FROM ${schema}.coupons WHERE tenant = $1 AND code = $2`,
    [tenant, code],
  );
  const old = r.rows[0];
  if (old && requestHash(old.body) === requestHash(body)) return { code, ...body };
  if (old && old.redemptions > 0)
    throw new PlansError('CONFLICT', `coupon ${code} was redeemed: it cannot change (create another code)`);
  await pool.query(
    `INSERT INTO ${schema}.coupons (tenant, code, body) VALUES ($1, $2, $3)
     ON CONFLICT (tenant, code) DO UPDATE SET body = $3`,
    [tenant, code, JSON.stringify(body)],
  );
  return { code, ...body };
}

export interface Redemption {
  code: string;
  accountId: string;
  periodsLeft: number | null;
  redeemedAt: string;
  replayed: boolean;
}

/** Redeems a coupon for an account inside the caller's transaction; checks first, writes last. */
export async function redeem(
  c: PoolClient,
  schema: string,
  r: { tenant: string; accountId: string; currency: string; code: string; reference: string; nowMs: number },
): Promise<Redemption> {
  const hash = requestHash({ accountId: r.accountId, code: r.code });
  // A double send waits here for the first, then reads its redemption and replays it (without the
  // lock it locked the coupon after reading no prior and refused COUPON_ALREADY_REDEEMED).
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
    `coupon-redemption:${schema}:${r.tenant}:${r.reference}`,
  ]);
  const prior = await c.query<{
    code: string;
    account_id: string;
    periods_left: number | null;
    redeemed_at: Date;
    request_hash: string;
  }>(
    `SELECT code, account_id, periods_left, redeemed_at, request_hash FROM ${schema}.coupon_redemptions
      WHERE tenant = $1 AND reference = $2`,
    [r.tenant, r.reference],
  );
  const p = prior.rows[0];
  if (p) {
    if (p.request_hash !== hash)
      throw new PlansError('CONFLICT', `reference ${r.reference} was used for another request`);
    return {
      code: p.code,
      accountId: p.account_id,
      periodsLeft: p.periods_left,
      redeemedAt: p.redeemed_at.toISOString(),
      replayed: true,
    };
  }
  const found = await c.query<{ body: CouponBody; redemptions: number }>(
    `SELECT body, redemptions FROM ${schema}.coupons WHERE tenant = $1 AND code = $2 FOR UPDATE`,
    [r.tenant, r.code],
  );
  const coupon = found.rows[0];
  if (!coupon) throw new PlansError('COUPON_NOT_FOUND', `no coupon ${r.code}`);
  const b = coupon.body;
  if (b.expiresAt && Date.parse(b.expiresAt) <= r.nowMs)
    throw new PlansError('COUPON_EXPIRED', `coupon ${r.code} expired`);
  const taken = await c.query(
    `SELECT 1 FROM ${schema}.coupon_redemptions WHERE tenant = $1 AND code = $2 AND account_id = $3`,
    [r.tenant, r.code, r.accountId],
  );
  if (taken.rowCount)
    throw new PlansError('COUPON_ALREADY_REDEEMED', `account ${r.accountId} already redeemed ${r.code}`);
  if (b.maxRedemptions !== undefined && coupon.redemptions >= b.maxRedemptions)
    throw new PlansError(
      'COUPON_EXHAUSTED',
      `coupon ${r.code} was redeemed ${coupon.redemptions} times, its most`,
    );
  if (b.kind === 'fixed' && !b.amounts?.[r.currency])
    throw new PlansError('NO_PRICE_FOR_CURRENCY', `coupon ${r.code} has no amount in ${r.currency}`);
  const periodsLeft = b.duration === 'once' ? 1 : b.duration === 'repeating' ? (b.periods ?? 1) : null;
  const at = new Date(r.nowMs);
  await c.query(
    `INSERT INTO ${schema}.coupon_redemptions (tenant, code, account_id, periods_left, redeemed_at, reference, request_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [r.tenant, r.code, r.accountId, periodsLeft, at, r.reference, hash],
  );
  await c.query(
    `UPDATE ${schema}.coupons SET redemptions = redemptions + 1 WHERE tenant = $1 AND code = $2`,
    [r.tenant, r.code],
  );
  return { code: r.code, accountId: r.accountId, periodsLeft, redeemedAt: at.toISOString(), replayed: false };
}

/**
 * The account's coupons that apply to a fee of `planCode` now, in redemption order, each used up by
 * one period (`periods_left` counts down; forever stays null).
 */
export async function takeCoupons(
  c: PoolClient,
  schema: string,
  tenant: string,
  accountId: string,
  planCode: string,
  currency: string,
): Promise<{ code: string; coupon: Coupon }[]> {
  const r = await c.query<{ code: string; body: CouponBody }>(
    `SELECT r.code, k.body FROM ${schema}.coupon_redemptions r
       JOIN ${schema}.coupons k ON k.tenant = r.tenant AND k.code = r.code
      WHERE r.tenant = $1 AND r.account_id = $2 AND (r.periods_left IS NULL OR r.periods_left > 0)
      ORDER BY r.redeemed_at, r.code FOR UPDATE OF r`,
    [tenant, accountId],
  );
  const out = r.rows
    .filter((x) => !x.body.plans?.length || x.body.plans.includes(planCode))
    .map((x) => ({
      code: x.code,
      coupon:
        x.body.kind === 'percent'
          ? ({ kind: 'percent', percentMicros: percentMicros(x.body.percent!)! } as const)
          : ({ kind: 'fixed', amountNano: parseMoney(x.body.amounts?.[currency] ?? '0', currency) } as const),
    }));
  if (out.length > 0)
    await c.query(
      `UPDATE ${schema}.coupon_redemptions SET periods_left = periods_left - 1
        WHERE tenant = $1 AND account_id = $2 AND code = ANY($3::text[]) AND periods_left IS NOT NULL`,
      [tenant, accountId, out.map((x) => x.code)],
    );
  return out;
}
