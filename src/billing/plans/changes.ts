/**
 * A change of plan or quantity on an assignment (PATCH). `period_end`: the next renewal switches to
 * the new plan version and quantity (nothing is charged now). `now`: the unused part of the current
 * period's fee is credited and the new plan's fee for the rest of the period charged (both prorated
 * by local days), as one Redis movement of the difference (a debit under `fee:{assignmentId}:{nowIso}`,
 * or a refund to the account's first money balance); the old bundles are taken off and the new ones
 * granted for the rest of the period. The last change's reference answers a retry. `now` happens
 * at the moment first asked (intents.ts): a retry after a failed commit moves the same money, once.
 */
import type { PoolClient } from 'pg';
import { prorate } from '../core/proration.js';
import { localDaysBetween } from '../core/proration.js';
import { planPeriodStart } from '../core/periods.js';
import { clockOf, priceOf, type AssignmentRow } from './assignments.js';
import { getPlan, markInUse, type PlanVersion } from './catalog.js';
import { debitFee, insertCharges, settleCharges, type NewCharge } from './charges.js';
import { lockCutShared } from '../run/cutoff.js';
import { inTransaction, requestHash, type PlansDeps } from './db.js';
import { PlansError } from './errors.js';
import { grantBundles, removeBundles } from './plan-bundles.js';
import { isoOf } from './plan-periods.js';
import { withMoment } from './intents.js';
import { ensureProfile, type BillingProfile } from './profiles.js';

export interface ChangeRequest {
  plan?: string;
  version?: number;
  quantity?: number;
  effective: 'now' | 'period_end';
  reference: string;
}

async function lockAssignment(c: PoolClient, schema: string, tenant: string, accountId: string, id: string) {
  const r = await c.query<AssignmentRow & { change_reference: string | null; change_hash: string | null }>(
    `SELECT * FROM ${schema}.account_plans WHERE tenant = $1 AND account_id = $2 AND id::text = $3 FOR UPDATE`,
    [tenant, accountId, id],
  );
  if (!r.rows[0]) throw new PlansError('ASSIGNMENT_NOT_FOUND', `no assignment ${id} on ${accountId}`);
  return r.rows[0];
}

/** The old fee's unused part as a credit and the new fee for the rest of the period. */
function swapLines(
  a: AssignmentRow,
  from: PlanVersion,
  to: PlanVersion,
  quantity: number,
  profile: BillingProfile,
  nowMs: number,
  reference: string,
): NewCharge[] {
  const end = a.current_period_end.getTime();
  const clock = clockOf(from, profile, a.anchor_day);
  const whole = planPeriodStart(end, clock.period, clock.count, clock.anchorDay, clock.zone);
  const left = localDaysBetween(nowMs, end, profile.timezone);
  const total = localDaysBetween(whole, end, profile.timezone);
  const base = { currency: profile.currency, serviceStart: nowMs, serviceEnd: end, accountPlanId: a.id };
  return [
    {
      ...base,
      opId: `credit:${a.id}:${reference}`,
      kind: 'adjustment',
      quantity: a.quantity,
      taxCode: from.body.taxCode,
      amountNano: -prorate(priceOf(from, profile.currency), a.quantity, left, total),
      description: `${from.code} unused ${left}/${total} days`,
    },
    {
      ...base,
      opId: `fee:${a.id}:${isoOf(nowMs)}`,
      kind: 'proration',
      quantity,
      taxCode: to.body.taxCode,
      amountNano: prorate(priceOf(to, profile.currency), quantity, left, total),
      description: `${to.code} ${left}/${total} days`,
    },
  ];
}

async function moveMoney(
  deps: PlansDeps,
  a: AssignmentRow,
  net: bigint,
  nowMs: number,
  force: boolean,
  reference: string,
) {
  if (net >= 0n)
    return debitFee(deps.balances, a.tenant, a.account_id, `fee:${a.id}:${isoOf(nowMs)}`, net, force);
  const view = await deps.balances.getAccount(a.tenant, a.account_id);
  const money = view?.balances
    .filter((b) => b.unit === 'money' && b.scope === 'a')
    .sort((x, y) => y.weight - x.weight || x.id.localeCompare(y.id))[0];
  if (!money) return { code: 'BALANCE_NOT_FOUND' };
  const r = await deps.balances.credit(a.tenant, a.account_id, {
    opId: `credit:${a.id}:${reference}`,
    balanceId: money.id,
    amount: Number(-net),
    kind: 'refund',
  });
  return { code: r.code };
}

interface Planned {
  a: AssignmentRow;
  profile: BillingProfile;
  from: PlanVersion;
  to: PlanVersion;
  quantity: number;
}

/** The locked assignment and what the change asks of it; a repeat of its last change is `replay`. */
async function planChange(
  c: PoolClient,
  deps: PlansDeps,
  tenant: string,
  accountId: string,
  id: string,
  req: ChangeRequest,
  hash: string,
): Promise<{ replay: AssignmentRow } | Planned> {
  const { schema } = deps;
  const a = await lockAssignment(c, schema, tenant, accountId, id);
  if (a.change_reference === req.reference) {
    if (a.change_hash !== hash)
      throw new PlansError('CONFLICT', `reference ${req.reference} was used for another change`);
    return { replay: a };
  }
  if (a.status !== 'active' || (a.end_at && a.end_at <= a.current_period_end))
    throw new PlansError(
      'ASSIGNMENT_NOT_ACTIVE',
      `assignment ${id} is ${a.status}${a.end_at ? ' and ends' : ''}`,
    );
  const profile = await ensureProfile(c, deps, tenant, accountId);
  const from = await getPlan(c, schema, tenant, a.plan_code, a.plan_version);
  const to = await getPlan(
    c,
    schema,
    tenant,
    req.plan ?? a.plan_code,
    req.plan || req.version ? req.version : a.plan_version,
  );
  priceOf(to, profile.currency);
  return { a, profile, from, to, quantity: req.quantity ?? a.quantity };
}

/** `period_end`: the next renewal switches (nothing moves now). */
async function changeAtPeriodEnd(c: PoolClient, schema: string, p: Planned, mark: string[]) {
  const u = await c.query<AssignmentRow>(
    `UPDATE ${schema}.account_plans SET next_plan_code = $2, next_plan_version = $3, next_quantity = $4,
       change_reference = $5, change_hash = $6, updated_at = now() WHERE id = $1 RETURNING *`,
    [p.a.id, p.to.code, p.to.version, p.quantity, ...mark],
  );
  await markInUse(c, schema, p.a.tenant, p.to);
  return u.rows[0]!;
}

/** `now`, at the change's held moment: the money moved, the bundles swapped, the plan switched. */
async function changeNow(
  c: PoolClient,
  deps: PlansDeps,
  p: Planned,
  req: ChangeRequest,
  mark: string[],
  nowMs: number,
  moved: () => void,
) {
  const { schema } = deps;
  const { a, profile, from, to, quantity } = p;
  const { tenant, account_id: accountId } = a;
  const lines = swapLines(a, from, to, quantity, profile, nowMs, req.reference);
  await insertCharges(c, schema, tenant, accountId, lines);
  const net = lines.reduce((s, l) => s + l.amountNano, 0n);
  const force = profile.accountType === 'postpaid' || to.body.onInsufficientFunds === 'allow_negative';
  const money = await moveMoney(deps, a, net, nowMs, force, req.reference);
  if (money.code === 'INSUFFICIENT')
    throw new PlansError('INSUFFICIENT_CREDIT', `the account cannot pay ${to.code}`);
  if (money.code !== 'OK') throw new PlansError('CONFLICT', `the change was refused: ${money.code}`);
  moved();
  await removeBundles(deps.balances, { tenant, accountId, id: a.id, seq: a.seq }, nowMs);
  const end = a.current_period_end.getTime();
  const clock = clockOf(to, profile, a.anchor_day);
  const whole = planPeriodStart(end, clock.period, clock.count, clock.anchorDay, clock.zone);
  const period = {
    start: nowMs,
    end,
    activeDays: localDaysBetween(nowMs, end, profile.timezone),
    periodDays: localDaysBetween(whole, end, profile.timezone),
  };
  const reset = { ...to.body, bundles: to.body.bundles.map((b) => ({ ...b, renewal: 'reset' as const })) };
  await grantBundles(
    deps.balances,
    { tenant, accountId, id: a.id, seq: a.seq, quantity },
    reset,
    clock,
    period,
    a.periods_renewed,
  );
  await settleCharges(
    c,
    schema,
    tenant,
    lines.map((l) => l.opId),
    { status: 'applied' },
  );
  await markInUse(c, schema, tenant, to);
  const u = await c.query<AssignmentRow>(
    `UPDATE ${schema}.account_plans SET plan_code = $2, plan_version = $3, quantity = $4, change_reference = $5,
       change_hash = $6, updated_at = now() WHERE id = $1 RETURNING *`,
    [a.id, to.code, to.version, quantity, ...mark],
  );
  return u.rows[0]!;
}

export async function changeAssignment(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
  id: string,
  req: ChangeRequest,
): Promise<{ assignment: AssignmentRow; replayed: boolean }> {
  const hash = requestHash({ accountId, id, ...req });
  const mark = [req.reference, hash];
  if (req.effective === 'period_end')
    return inTransaction(deps.pool, async (c) => {
      const p = await planChange(c, deps, tenant, accountId, id, req, hash);
      if ('replay' in p) return { assignment: p.replay, replayed: true };
      return { assignment: await changeAtPeriodEnd(c, deps.schema, p, mark), replayed: false };
    });
  const intent = { subject: id, reference: req.reference, hash };
  return withMoment(deps, tenant, intent, async (c, atMs, moved) => {
    await lockCutShared(c, deps.schema, [tenant]); // first: the applied charge's stored_at must fall on one side of a cut-off
    const p = await planChange(c, deps, tenant, accountId, id, req, hash);
    if ('replay' in p) return { assignment: p.replay, replayed: true };
    return { assignment: await changeNow(c, deps, p, req, mark, atMs, moved), replayed: false };
  });
}

/** The unused part of the current period's fee, back to the account (an `adjustment` charge). */
async function refund(c: PoolClient, deps: PlansDeps, a: AssignmentRow, nowMs: number, moved: () => void) {
  const profile = await ensureProfile(c, deps, a.tenant, a.account_id);
  const plan = await getPlan(c, deps.schema, a.tenant, a.plan_code, a.plan_version);
  const [credit] = swapLines(a, plan, plan, a.quantity, profile, nowMs, 'cancel');
  await insertCharges(c, deps.schema, a.tenant, a.account_id, [credit!]);
  const money = await moveMoney(deps, a, credit!.amountNano, nowMs, false, 'cancel');
  if (money.code !== 'OK') throw new PlansError('CONFLICT', `the refund was refused: ${money.code}`);
  moved();
  await settleCharges(c, deps.schema, a.tenant, [credit!.opId], { status: 'applied' });
}

/**
 * Cancels an assignment: `period_end` lets it run to its current period's end (renewals then end
 * it); `now` ends it and takes its bundles off at once, and with `refundUnused` credits the unused
 * part of the period's fee (by local days left), at the moment first asked (a retry after a failed
 * commit refunds the same amount, once). A repeat changes nothing.
 */
export async function cancelAssignment(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
  id: string,
  effective: 'now' | 'period_end',
  refundUnused = false,
): Promise<AssignmentRow> {
  const { schema } = deps;
  if (effective === 'period_end')
    return inTransaction(deps.pool, async (c) => {
      const a = await lockAssignment(c, schema, tenant, accountId, id);
      if (a.status === 'cancelled' || a.status === 'ended') return a;
      const u = await c.query<AssignmentRow>(
        `UPDATE ${schema}.account_plans SET end_at = current_period_end, updated_at = now() WHERE id = $1 RETURNING *`,
        [a.id],
      );
      return u.rows[0]!;
    });
  const intent = { subject: id, reference: 'cancel', hash: requestHash({ accountId, id, refundUnused }) };
  return withMoment(deps, tenant, intent, async (c, nowMs, moved) => {
    await lockCutShared(c, schema, [tenant]); // first: a refund's stored_at must fall on one side of a cut-off
    const a = await lockAssignment(c, schema, tenant, accountId, id);
    if (a.status === 'cancelled' || a.status === 'ended') return a;
    if (refundUnused && a.status === 'active') await refund(c, deps, a, nowMs, moved);
    await removeBundles(deps.balances, { tenant, accountId, id: a.id, seq: a.seq }, nowMs);
    const u = await c.query<AssignmentRow>(
      `UPDATE ${schema}.account_plans SET status = 'cancelled', end_at = $2, updated_at = now() WHERE id = $1 RETURNING *`,
      [a.id, new Date(nowMs)],
    );
    return u.rows[0]!;
  });
}
