/**
 * Renewals at period end (`renewDue`, called by the billing run and its scheduler): for each
 * assignment whose period ended by `asOf`, the next period's fee is written `pending`, debited in
 * Redis (`fee:{assignmentId}:{periodStartIso}`; postpaid and `allow_negative` plans forced past the
 * floor), then `applied` and the bundles renewed — or, prepaid without funds, `failed`: the
 * assignment turns `unpaid` (event `plan.renewal_failed`), its bundles are not renewed, and every
 * later call (each run, and `retryUnpaid` after a top-up) tries the same fee again until `graceDays`
 * after the period start have passed, when it is `cancelled`. A late success renews the period as it
 * was (same start and end: no extension). Every step is idempotent by its operation id, so a rerun
 * after a crash charges nothing twice.
 */
import type { PoolClient } from 'pg';
import type { Account } from '../../balances/model.js';
import { getPlan, type PlanVersion } from './catalog.js';
import { chargesOf, debitFee, insertCharges, insertEvent, settleCharges } from './charges.js';
import { takeCoupons } from './coupons.js';
import { lockCutShared } from '../run/cutoff.js';
import { inTransaction, type PlansDeps } from './db.js';
import { clockOf, feeLines, type AssignmentRow } from './assignments.js';
import { grantBundles } from './plan-bundles.js';
import { isoOf, periodEndAfter } from './plan-periods.js';
import { ensureProfile, type BillingProfile } from './profiles.js';

export interface RenewCounters {
  renewed: number;
  feesCharged: number;
  feesFailed: number;
  cancelled: number;
  ended: number;
}

const DAY_MS = 86_400_000;

interface Ctx {
  deps: PlansDeps;
  c: PoolClient;
  a: AssignmentRow;
  plan: PlanVersion;
  profile: BillingProfile;
  account: Account | null;
  counters: RenewCounters;
}

/** Charges the fee of [start, end) and, when paid, renews the bundles. Returns whether it was paid. */
async function chargePeriod(x: Ctx, start: number, end: number): Promise<boolean> {
  const { deps, c, a, plan, profile } = x;
  const { schema } = deps;
  const feeOp = `fee:${a.id}:${isoOf(start)}`;
  const opIds = (lines: { opId: string }[]) => lines.map((l) => l.opId);
  let ids: string[];
  let net: bigint;
  const stored = await c.query<{ op_id: string }>(
    `SELECT op_id FROM ${schema}.charges WHERE tenant = $1 AND account_plan_id = $2 AND service_start = $3`,
    [a.tenant, a.id, new Date(start)],
  );
  if (stored.rows.length > 0) {
    ids = stored.rows.map((r) => r.op_id);
    net = (await chargesOf(c, schema, a.tenant, ids)).netNano;
  } else {
    const coupons = await takeCoupons(c, schema, a.tenant, a.account_id, plan.code, profile.currency);
    const period = { start, end, activeDays: 1, periodDays: 1 };
    const lines = feeLines(
      { id: a.id, plan, quantity: a.quantity, currency: profile.currency },
      period,
      coupons,
    );
    await insertCharges(c, schema, a.tenant, a.account_id, lines);
    ids = opIds(lines);
    net = lines.reduce((s, l) => s + l.amountNano, 0n);
  }
  const force = profile.accountType === 'postpaid' || plan.body.onInsufficientFunds === 'allow_negative';
  const paid = await debitFee(deps.balances, a.tenant, a.account_id, feeOp, net, force);
  if (paid.code !== 'OK') {
    await settleCharges(c, schema, a.tenant, ids, { status: 'failed', code: paid.code });
    x.counters.feesFailed++;
    return false;
  }
  await settleCharges(c, schema, a.tenant, ids, { status: 'applied' });
  x.counters.feesCharged++;
  const limit = x.account?.type === 'postpaid' ? -x.account.creditLimitNano : undefined;
  if (limit !== undefined && paid.valueAfter !== undefined && paid.valueAfter < limit)
    await insertEvent(c, schema, {
      id: `account.credit_limit_exceeded:${feeOp}`,
      tenant: a.tenant,
      type: 'account.credit_limit_exceeded',
      accountId: a.account_id,
      occurredAt: start,
      payload: { accountId: a.account_id, opId: feeOp, balanceNano: String(paid.valueAfter) },
    });
  const clock = clockOf(plan, profile, a.anchor_day);
  const k = a.periods_renewed + 1;
  await grantBundles(
    deps.balances,
    { tenant: a.tenant, accountId: a.account_id, id: a.id, seq: a.seq, quantity: a.quantity },
    plan.body,
    clock,
    { start, end, activeDays: 1, periodDays: 1 },
    k,
  );
  x.counters.renewed++;
  return true;
}

async function setStatus(x: Ctx, fields: Record<string, unknown>): Promise<void> {
  const names = Object.keys(fields);
  const sets = names.map((n, i) => `${n} = $${i + 2}`).join(', ');
  const r = await x.c.query<AssignmentRow>(
    `UPDATE ${x.deps.schema}.account_plans SET ${sets}, updated_at = now() WHERE id = $1 RETURNING *`,
    [x.a.id, ...names.map((n) => fields[n])],
  );
  x.a = r.rows[0]!;
}

/** A change of plan made for the period end (PATCH) takes effect before the new period is charged. */
async function switchPlan(x: Ctx): Promise<void> {
  const { next_plan_code: code, next_plan_version: version, next_quantity: quantity } = x.a;
  x.plan = await getPlan(x.c, x.deps.schema, x.a.tenant, code!, version ?? undefined);
  await setStatus(x, {
    plan_code: x.plan.code,
    plan_version: x.plan.version,
    quantity: quantity ?? x.a.quantity,
    next_plan_code: null,
    next_plan_version: null,
    next_quantity: null,
  });
}

/** Renews one assignment up to `asOf`, one period at a time; stops at a period it cannot pay. */
async function renewOne(x: Ctx, asOf: number): Promise<void> {
  const grace = x.plan.body.graceDays * DAY_MS;
  let tried = false;
  for (;;) {
    const start = x.a.current_period_end.getTime();
    if (start > asOf) return;
    if (x.a.end_at && x.a.end_at.getTime() <= start) {
      await setStatus(x, { status: 'ended' });
      x.counters.ended++;
      return;
    }
    if (x.a.status === 'unpaid' && asOf >= start + grace) {
      await setStatus(x, { status: 'cancelled', end_at: new Date(start) });
      await insertEvent(x.c, x.deps.schema, {
        id: `plan.cancelled:${x.a.id}`,
        tenant: x.a.tenant,
        type: 'plan.cancelled',
        accountId: x.a.account_id,
        occurredAt: start + grace,
        payload: { assignmentId: x.a.id, plan: x.a.plan_code, reason: 'unpaid' },
      });
      x.counters.cancelled++;
      return;
    }
    if (tried) return;
    if (x.a.next_plan_code) await switchPlan(x);
    const end = periodEndAfter(clockOf(x.plan, x.profile, x.a.anchor_day), start);
    if (await chargePeriod(x, start, end)) {
      await setStatus(x, {
        status: 'active',
        current_period_start: new Date(start),
        current_period_end: new Date(end),
        periods_renewed: x.a.periods_renewed + 1,
        unpaid_since: null,
      });
      continue;
    }
    tried = true;
    if (x.a.status !== 'unpaid') {
      await setStatus(x, { status: 'unpaid', unpaid_since: new Date(start) });
      await insertEvent(x.c, x.deps.schema, {
        id: `plan.renewal_failed:${x.a.id}:${isoOf(start)}`,
        tenant: x.a.tenant,
        type: 'plan.renewal_failed',
        accountId: x.a.account_id,
        occurredAt: start,
        payload: {
          assignmentId: x.a.id,
          plan: x.a.plan_code,
          periodStart: isoOf(start),
          periodEnd: isoOf(end),
          graceUntil: isoOf(start + grace),
        },
      });
    }
  }
}

async function renewById(deps: PlansDeps, tenant: string, id: string, asOf: number, counters: RenewCounters) {
  await inTransaction(deps.pool, async (c) => {
    await lockCutShared(c, deps.schema, [tenant]); // first: the applied fee's stored_at must fall on one side of a cut-off
    const r = await c.query<AssignmentRow>(
      `SELECT * FROM ${deps.schema}.account_plans WHERE id = $1 AND tenant = $2 AND status IN ('active','unpaid')
          AND current_period_end <= $3 FOR UPDATE SKIP LOCKED`,
      [id, tenant, new Date(asOf)],
    );
    const a = r.rows[0];
    if (!a) return;
    const plan = await getPlan(c, deps.schema, tenant, a.plan_code, a.plan_version);
    const profile = await ensureProfile(c, deps, tenant, a.account_id);
    const account = await deps.balances.accountInfo(tenant, a.account_id);
    await renewOne({ deps, c, a, plan, profile, account, counters }, asOf);
  });
}

/**
 * Renews every assignment of the tenant due by `asOf` (or of `opts.accounts`), in batches, each
 * assignment in a transaction of its own (a failing one does not hold the others back; it throws
 * after the others ran). Returns what happened.
 */
export async function renewDue(
  deps: PlansDeps,
  tenant: string,
  asOf: number,
  opts: { accounts?: string[]; batchSize?: number } = {},
): Promise<RenewCounters> {
  const counters: RenewCounters = { renewed: 0, feesCharged: 0, feesFailed: 0, cancelled: 0, ended: 0 };
  const batch = opts.batchSize ?? 500;
  let after = '';
  let failed: unknown;
  for (;;) {
    const r = await deps.pool.query<{ id: string }>(
      `SELECT id::text FROM ${deps.schema}.account_plans WHERE tenant = $1 AND status IN ('active','unpaid')
          AND current_period_end <= $2 AND id::text > $3 AND ($4::text[] IS NULL OR account_id = ANY($4))
        ORDER BY id::text LIMIT $5`,
      [tenant, new Date(asOf), after, opts.accounts ?? null, batch],
    );
    for (const { id } of r.rows) {
      try {
        await renewById(deps, tenant, id, asOf, counters);
      } catch (err) {
        failed ??= err;
      }
    }
    if (r.rows.length < batch) break;
    after = r.rows.at(-1)!.id;
  }
  if (failed) throw failed;
  return counters;
}

/** After a credit to the account (a top-up): its unpaid assignments try their fee again now. */
export function retryUnpaid(deps: PlansDeps, tenant: string, accountId: string, asOf: number) {
  return renewDue(deps, tenant, asOf, { accounts: [accountId] });
}
