/**
 * What the balances said of a planned session step, turned into decisions for the next plan
 * (session-plan.ts `Decisions`): a price for the part bundles do not cover, what a settle really
 * moved, a grant of what the balances afford (session-grants.ts), or a refusal for the group.
 */
import { proRata } from '../balances/pro-rata.js';
import type { StepOpResult } from '../balances/step.js';
import type { BalanceStore } from '../balances/store.js';
import { usageToBase } from '../rating/index.js';
import { refusalResult } from './result-codes.js';
import { affordableGrant, grantSnapshot, type Taken } from './session-grants.js';
import type { SessionRecord, SessionRequest } from './session-model.js';
import type { Decisions, PlannedStep, SessionRater } from './session-plan.js';

export interface LearnDeps {
  balances: Pick<BalanceStore, 'getAccount'>;
  now: () => number;
  rate: SessionRater;
}

/**
 * What the balances can pay of the group's quota (session-grants.ts): a snapshot of them, with
 * what each had free when the step refused the reservation, less what earlier grants take.
 */
async function affordable(
  deps: LearnDeps,
  s: SessionRecord,
  rg: number,
  plan: PlannedStep,
  at: string,
  free: Map<string, number> | undefined,
  taken: Taken,
): Promise<number> {
  const quota = plan.state.groups[rg]!.quota;
  const view = await deps.balances.getAccount(s.tenant, s.accountId);
  const rated = deps.rate(s, quota, usageToBase(s.tor, plan.state.groups[rg]?.used ?? 0), at);
  if (!view || !rated) return 0;
  const snapshot = grantSnapshot(view, s, rg, deps.now(), free, taken);
  return affordableGrant(s, rated, snapshot, quota, taken);
}

/** Turns what the balances said of a planned step into decisions for the next plan (in `d`). */
export async function learn(
  deps: LearnDeps,
  s: SessionRecord,
  plan: PlannedStep,
  outcome: { results: StepOpResult[] },
  d: Decisions,
  req: SessionRequest,
): Promise<void> {
  const taken: Taken = new Map(); // what the grants learned in this pass take, in request order
  // A rounding settlement was planned on what the group's settle was expected to charge: when the
  // settle deviated, the settlement was planned on a wrong amount and is planned again, not dropped.
  const unsettled = new Set(
    plan.refs
      .filter(({ role }, i) => role === 'settle' && outcome.results[i]!.code !== 'OK')
      .map((r) => r.rg),
  );
  for (const [i, r] of outcome.results.entries()) {
    if (r.code === 'OK') continue;
    const { rg, role } = plan.refs[i]!;
    if (role === 'final' && unsettled.has(rg)) continue;
    const c = plan.ops[i]!.charge!;
    const priced = () => ({
      covered: r.covered!,
      moneyNano: proRata(c.amountNano, c.units - r.covered!, c.units),
    });
    const refusal = refusalResult(r.code);
    if (role === 'final') d.finalRefused.add(rg);
    else if (role === 'settle') {
      if (r.code === 'NEED_PRICE') {
        d.settlePriced.set(rg, priced());
        d.settleOutcome.delete(rg);
      } else if (r.code === 'EXPECTATION')
        d.settleOutcome.set(rg, { moneyNano: r.moneyNano, units: r.units });
      else d.settleRefused.set(rg, refusal);
    } else if (role === 'reserve') {
      if (r.code === 'NEED_PRICE') d.reservePriced.set(rg, priced());
      else if (r.code === 'INSUFFICIENT') {
        // What the balances afford; refused again (they changed meanwhile): less, or nothing.
        const before = d.grant.get(rg);
        const can = await affordable(deps, s, rg, plan, req.eventTime, r.free, taken);
        d.grant.set(rg, before === undefined || can < before ? can : 0);
        d.reservePriced.delete(rg);
      } else d.reserveRefused.set(rg, refusal);
    }
  }
}
