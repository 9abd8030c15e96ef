/**
 * Tests drive the balances as sessions and events do: through one `step` per request. These
 * helpers run a step of plain operations (no session) and price a partly covered charge as the
 * charging layer does (exact pro rata) until the step applies or refuses for another reason.
 */
import { proRata } from '../../src/balances/pro-rata.js';
import type { StepOp, StepOutcome } from '../../src/balances/step.js';
import type { BalanceStore } from '../../src/balances/store.js';

/** The price of a charge's units bundles do not cover, as the charging layer computes it. */
export function priceRest(op: StepOp, covered: number): { covered: number; moneyNano: number } {
  const c = op.charge!;
  return { covered, moneyNano: proRata(c.amountNano, c.units - covered, c.units) };
}

/** Runs a step of `ops` under `stepId`, pricing what bundles leave uncovered; a few rounds at most. */
export async function runStep(
  store: BalanceStore,
  tenant: string,
  accountId: string,
  stepId: string,
  ops: StepOp[],
): Promise<StepOutcome> {
  let current = ops;
  for (let round = 0; ; round++) {
    const out = await store.step(tenant, accountId, {
      stepId,
      fingerprint: JSON.stringify(ops),
      answer: `answer of ${stepId}`,
      retentionSeconds: 3600,
      ops: current,
    });
    if (out.status !== 'DEVIATED' || round === 5) return out;
    const needs = out.results.some((r) => r.code === 'NEED_PRICE');
    if (!needs) return out;
    current = current.map((op, i) => {
      const r = out.results[i]!;
      return r.code === 'NEED_PRICE' ? { ...op, priced: priceRest(op, r.covered!) } : op;
    });
  }
}

/** The first operation's result of an applied or deviated step (a one-operation step's code). */
export function firstResult(out: StepOutcome) {
  if (out.status !== 'APPLIED' && out.status !== 'DEVIATED') throw new Error(`step ${out.status}`);
  return out.results[0]!;
}
