/**
 * Plan assignments (account_plans): assigning a plan version to an account charges the setup fee and
 * the (prorated) first period, net of coupons, as one Redis debit, and grants the bundles — all in one
 * PostgreSQL transaction that a refusal rolls back (a refused Redis debit changes nothing). The
 * assignment id comes from the caller's reference, so a retry after a crash finds the Redis
 * operations of the first attempt and replays them instead of charging twice.
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { applyCoupons } from '../core/discounts.js';
import { parseMoney } from '../core/currency.js';
import { partialFee } from '../core/proration.js';
import { getPlan, markInUse, type PlanVersion } from './catalog.js';
import { debitFee, insertCharges, settleCharges, type NewCharge } from './charges.js';
import { redeem, takeCoupons } from './coupons.js';
import { lockCutShared } from '../run/cutoff.js';
import { requestHash, type PlansDeps } from './db.js';
import { withMoment } from './intents.js';
import { PlansError } from './errors.js';
import { grantBundles } from './plan-bundles.js';
import { anchorDayFor, firstPeriod, isoOf, type PlanClock } from './plan-periods.js';
import { ensureProfile, type BillingProfile } from './profiles.js';

export interface AssignRequest {
  plan: string;
  version?: number;
  quantity: number;
  startAt?: number;
  coupons: string[];
  reference: string;
  /**
   * The period's anchor (month day 1-31, ISO weekday 1-7) when the seller names one: a CGRateS
   * action plan's MonthDays or WeekDays (src/cgrates-api/). Default: the plan's own rule.
   */
  anchorDay?: number;
}

export interface AssignmentRow {
  id: string;
  tenant: string;
  account_id: string;
  seq: number;
  plan_code: string;
  plan_version: number;
  quantity: number;
  status: 'active' | 'unpaid' | 'cancelled' | 'ended';
  start_at: Date;
  end_at: Date | null;
  current_period_start: Date;
  current_period_end: Date;
  anchor_day: number;
  periods_renewed: number;
  unpaid_since: Date | null;
  coupon_codes: string[];
  reference: string;
  request_hash: string;
  /** A change at period end (PATCH): the plan version and quantity the next renewal switches to. */
  next_plan_code: string | null;
  next_plan_version: number | null;
  next_quantity: number | null;
}

/** A stable uuid for (tenant, reference): the same request always names the same assignment. */
export function assignmentId(tenant: string, reference: string): string {
  const h = createHash('sha256').update(`${tenant}\u0000${reference}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function clockOf(plan: PlanVersion, profile: BillingProfile, anchorDay: number): PlanClock {
  return { period: plan.body.period, count: plan.body.periodCount, anchorDay, zone: profile.timezone };
}

/** The fee of a period for a plan in a currency (NO_PRICE_FOR_CURRENCY when the plan has none). */
export function priceOf(plan: PlanVersion, currency: string): bigint {
  const text = plan.body.prices[currency];
  if (text === undefined)
    throw new PlansError(
      'NO_PRICE_FOR_CURRENCY',
      `plan ${plan.code} v${plan.version} has no price in ${currency}`,
    );
  return parseMoney(text, currency);
}

/** The fee lines of a period: the fee (or proration), and a discount line per coupon that took something. */
export function feeLines(
  a: { id: string; plan: PlanVersion; quantity: number; currency: string },
  period: { start: number; end: number; activeDays: number; periodDays: number },
  coupons: Awaited<ReturnType<typeof takeCoupons>>,
): NewCharge[] {
  const plan = a.plan.body;
  const fee = partialFee(
    priceOf(a.plan, a.currency),
    a.quantity,
    period.activeDays,
    period.periodDays,
    plan.proration,
  );
  const { discounts } = applyCoupons(
    fee,
    coupons.map((x) => x.coupon),
    a.currency,
  );
  const base = {
    quantity: a.quantity,
    currency: a.currency,
    taxCode: plan.taxCode,
    serviceStart: period.start,
    serviceEnd: period.end,
    accountPlanId: a.id,
  };
  const at = isoOf(period.start);
  const whole = period.activeDays === period.periodDays;
  return [
    {
      ...base,
      opId: `fee:${a.id}:${at}`,
      kind: whole ? 'fee' : 'proration',
      amountNano: fee,
      description: `${a.plan.code} ${whole ? '' : `${period.activeDays}/${period.periodDays} days `}${at.slice(0, 10)}`,
    },
    ...coupons
      .map((x, i) => ({
        ...base,
        opId: `discount:${a.id}:${at}:${x.code}`,
        kind: 'discount' as const,
        amountNano: discounts[i]!,
        description: `coupon ${x.code}`,
        taxCode: plan.taxCode,
      }))
      .filter((x) => x.amountNano !== 0n),
  ];
}

async function byReference(c: PoolClient, schema: string, tenant: string, reference: string) {
  const r = await c.query<AssignmentRow>(
    `SELECT * FROM ${schema}.account_plans WHERE tenant = $1 AND reference = $2`,
    [tenant, reference],
  );
  return r.rows[0];
}

async function nextSeq(c: PoolClient, schema: string, tenant: string, accountId: string): Promise<number> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`assign ${tenant} ${accountId}`]);
  const r = await c.query<{ n: number }>(
    `SELECT coalesce(max(seq), 0) + 1 AS n FROM ${schema}.account_plans WHERE tenant = $1 AND account_id = $2`,
    [tenant, accountId],
  );
  return r.rows[0]!.n;
}

export async function assignPlan(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
  req: AssignRequest,
): Promise<{ assignment: AssignmentRow; replayed: boolean }> {
  const { schema } = deps;
  const hash = requestHash({ accountId, ...req });
  const intent = { subject: `assign:${accountId}`, reference: req.reference, hash };
  return withMoment(deps, tenant, intent, async (c, nowMs, moved) => {
    await lockCutShared(c, deps.schema, [tenant]); // first: the applied fee's stored_at must fall on one side of a cut-off
    const prior = await byReference(c, schema, tenant, req.reference);
    if (prior) {
      if (prior.request_hash !== hash)
        throw new PlansError('CONFLICT', `reference ${req.reference} was used for another request`);
      return { assignment: prior, replayed: true };
    }
    const profile = await ensureProfile(c, deps, tenant, accountId);
    const plan = await getPlan(c, schema, tenant, req.plan, req.version);
    priceOf(plan, profile.currency);
    const id = assignmentId(tenant, req.reference);
    for (const code of req.coupons)
      await redeem(c, schema, {
        tenant,
        accountId,
        currency: profile.currency,
        code,
        reference: `${req.reference}:${code}`,
        nowMs,
      });
    const start = req.startAt ?? nowMs;
    const anchorDay = req.anchorDay ?? anchorDayFor(plan.body, profile.billCycleDay, start, profile.timezone);
    const clock = clockOf(plan, profile, anchorDay);
    const period = firstPeriod(clock, start);
    const seq = await nextSeq(c, schema, tenant, accountId);
    const coupons = await takeCoupons(c, schema, tenant, accountId, plan.code, profile.currency);
    const lines = feeLines({ id, plan, quantity: req.quantity, currency: profile.currency }, period, coupons);
    const setupText = plan.body.setupFee[profile.currency];
    if (setupText)
      lines.unshift({
        ...lines[0]!,
        opId: `setup:${id}`,
        kind: 'setup',
        description: `${plan.code} setup`,
        amountNano: parseMoney(setupText, profile.currency) * BigInt(req.quantity),
      });
    const r = await c.query<AssignmentRow>(
      `INSERT INTO ${schema}.account_plans (id, tenant, account_id, seq, plan_code, plan_version, quantity, status,
         start_at, current_period_start, current_period_end, anchor_day, coupon_codes, reference, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8, $9, $10, $11, $12, $13) RETURNING *`,
      [
        id,
        tenant,
        accountId,
        seq,
        plan.code,
        plan.version,
        req.quantity,
        new Date(start),
        new Date(period.end),
        anchorDay,
        req.coupons,
        req.reference,
        hash,
      ],
    );
    await markInUse(c, schema, tenant, plan);
    await insertCharges(c, schema, tenant, accountId, lines);
    const net = lines.reduce((s, l) => s + l.amountNano, 0n);
    const force = profile.accountType === 'postpaid' || plan.body.onInsufficientFunds === 'allow_negative';
    const paid = await debitFee(deps.balances, tenant, accountId, `fee:${id}:${isoOf(start)}`, net, force);
    if (paid.code === 'INSUFFICIENT')
      throw new PlansError('INSUFFICIENT_CREDIT', `the account cannot pay ${plan.code}`);
    if (paid.code === 'ACCOUNT_NOT_FOUND')
      throw new PlansError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
    if (paid.code !== 'OK') throw new PlansError('CONFLICT', `the fee was refused: ${paid.code}`);
    moved();
    await grantBundles(
      deps.balances,
      { tenant, accountId, id, seq, quantity: req.quantity },
      plan.body,
      clock,
      period,
      0,
    );
    await settleCharges(
      c,
      schema,
      tenant,
      lines.map((l) => l.opId),
      { status: 'applied' },
    );
    return { assignment: r.rows[0]!, replayed: false };
  });
}

export async function listAssignments(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
): Promise<AssignmentRow[]> {
  const r = await deps.pool.query<AssignmentRow>(
    `SELECT * FROM ${deps.schema}.account_plans WHERE tenant = $1 AND account_id = $2 ORDER BY seq LIMIT 1000`,
    [tenant, accountId],
  );
  return r.rows;
}
