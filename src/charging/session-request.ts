/**
 * A planned session step as the step script is asked it (balances/step.ts `StepRequest`), and
 * what its outcome means for the caller: the money its reservations hold (a metric), the error of
 * a request the session's stored answers refuse. Pure.
 */
import type { StepOutcome, StepRequest } from '../balances/step.js';
import {
  infoOf,
  stateOf,
  SessionError,
  KEPT_ANSWERS,
  VALIDITY_SECONDS,
  type SessionRecord,
  type SessionRequest,
  type StepPhase,
} from './session-model.js';
import type { PlannedStep } from './session-plan.js';

/** The money held by reservations, before and after a step (for the metric). */
export function heldChange(before: SessionRecord, plan: PlannedStep, outcome: StepOutcome): number {
  if (outcome.status !== 'APPLIED') return 0;
  let delta = 0;
  plan.refs.forEach(({ rg, role }, i) => {
    const money = (holds: { unit: string; amount: number }[] | undefined) =>
      (holds ?? []).reduce((sum, h) => sum + (h.unit === 'money' ? h.amount : 0), 0);
    if (role === 'reserve') delta += money(outcome.results[i]!.holds);
    else if (role === 'settle' || role === 'release') delta -= money(before.groups[rg]?.holds);
  });
  return delta;
}

/** The rating groups whose reservation the step makes, and the operation (1-based) that makes it. */
function reserving(plan: PlannedStep): Map<string, number> {
  const out = new Map<string, number>();
  plan.refs.forEach(({ rg, role }, i) => role === 'reserve' && out.set(String(rg), i + 1));
  return out;
}

/**
 * What the step script is asked: the plan's operations, its answer and the session after it,
 * planned from the session as it stood at `version` (`before`).
 */
export function stepRequest(
  before: { version: number; state: SessionRecord },
  phase: StepPhase,
  req: SessionRequest,
  ids: { fp: string; requestKey: string; subscription: string | undefined },
  plan: PlannedStep,
  json: string,
): StepRequest {
  const keeps = plan.keepsSession;
  return {
    stepId: `sess:${plan.answer.sessionId}#${phase === 'expire' ? 'x' : req.requestNumber}`,
    fingerprint: ids.fp,
    answer: json,
    retentionSeconds: 2 * VALIDITY_SECONDS[before.state.tor]! + 86_400,
    session: {
      id: plan.answer.sessionId,
      expectedVersion: before.version,
      requestKey: ids.requestKey,
      ...(phase === 'initiate' && keeps ? { info: infoOf(plan.state) } : {}),
      state: keeps ? stateOf(plan.state, reserving(plan)) : '',
      // The sweep's hint follows the Tcc deadline; the next request finds the account by the index,
      // which lives as long as the session's record (renewed with it at every step).
      ...(keeps ? { dueMs: plan.state.state === 'open' ? plan.state.expiresAtMs : null } : {}),
      index: keeps,
    },
    ...(phase === 'initiate'
      ? { expectSubject: before.state.subject, expectSubscription: ids.subscription }
      : {}),
    ops: plan.ops,
    rated: plan.rated,
    trail: plan.trail,
  };
}

/** The error of a request the session's stored answers refuse. */
export function refusedRequest(
  sessionId: string,
  phase: StepPhase,
  req: SessionRequest,
  outcome: StepOutcome,
): SessionError {
  if (outcome.status === 'TOO_OLD')
    return new SessionError(
      'REQUEST_TOO_OLD',
      `requestNumber ${req.requestNumber} is not newer than ${outcome.newestDropped}, whose answer the session no longer keeps (it keeps the last ${KEPT_ANSWERS}): it is refused, never charged twice`,
    );
  if (phase === 'initiate')
    return new SessionError('SESSION_EXISTS', `session ${sessionId} was opened with a different request`);
  return new SessionError(
    'REQUEST_CONFLICT',
    `requestNumber ${req.requestNumber} was already processed with a different body`,
  );
}
