/**
 * Plans one step of a charging session, without I/O: from the session as it stands, the request and
 * the prices, the balance operations to run (settle what was used, release, reserve the next quota,
 * settle the rounding at the end), what each must move, the session after it, the answer and the
 * records. The step script (balances/lua/step.lua) applies the plan only if the balances agree;
 * when they do not, what they said becomes a decision and the step is planned again.
 *
 * Per rating group, in request order: used units are settled first (priced from the usage the
 * group had before, so tariff slots count from the session start), then the group's reservation is
 * released or renewed and a new quota reserved. A barred account (4010) gets no new quota and its
 * session closes; a terminate prices each group's whole usage once and settles the rounding.
 */
import type { StepOp } from '../balances/step.js';
import { proRata } from '../balances/pro-rata.js';
import {
  describeResult,
  nanoToDecimal,
  usageToBase,
  wholeUsage,
  type RatingResult,
} from '../rating/index.js';
import { disconnectUsage, hasDisconnectCap } from '../rating/max-cost.js';
import { result, type ResultName } from './result-codes.js';
import { unitsFor, usageOf } from './service-context.js';
import {
  commandResult,
  DEFAULT_QUOTA,
  finalUnitFor,
  newGroup,
  thresholdFor,
  VALIDITY_SECONDS,
  type Group,
  type MsccAnswer,
  type SessionAnswer,
  type SessionRecord,
  type SessionRequest,
  type StepPhase,
} from './session-model.js';

/** The price of `usage` (event units) of a session after `elapsedBefore` base units, at `atIso`. */
export type SessionRater = (
  s: SessionRecord,
  usage: number,
  elapsedBefore: number,
  atIso: string,
) => RatingResult | null;

/** What earlier tries of this step learned from the balances, by rating group. */
export interface Decisions {
  /** A settle the balances refused: the group answers with this code and its usage is not counted. */
  settleRefused: Map<number, ResultName>;
  /** What a settle really moves (when it could not be predicted). */
  settleOutcome: Map<number, { moneyNano: number; units: number }>;
  /** Partly covered by bundles: the covered units and the exact price of the rest. */
  settlePriced: Map<number, { covered: number; moneyNano: number }>;
  reservePriced: Map<number, { covered: number; moneyNano: number }>;
  /** Units to reserve instead of the quota asked (what the balances afford): the final units. */
  grant: Map<number, number>;
  /** A reservation the balances refused: the group answers with this code. */
  reserveRefused: Map<number, ResultName>;
  /** A rounding settlement the balances refused (it is left out). */
  finalRefused: Set<number>;
}

export const noDecisions = (): Decisions => ({
  settleRefused: new Map(),
  settleOutcome: new Map(),
  settlePriced: new Map(),
  reservePriced: new Map(),
  grant: new Map(),
  reserveRefused: new Map(),
  finalRefused: new Set(),
});

export type OpRole = 'settle' | 'release' | 'reserve' | 'final';

export interface PlannedStep {
  ops: StepOp[];
  /** Per operation: the rating group and what it is for (to read the step's results back). */
  refs: { rg: number; role: OpRole }[];
  /** The session after the step (reservation holds are learned from the results). */
  state: SessionRecord;
  /** Whether the session is kept after the step (a refused initiate keeps only its answer). */
  keepsSession: boolean;
  answer: SessionAnswer;
  /** Rated records of the groups, when the session closes (rows as JSON). */
  rated: string[];
  /** The trail entry of the request, without its answer (the step adds it). */
  trail: string;
}

export interface StepInput {
  tenant: string;
  sessionId: string;
  phase: StepPhase;
  req: SessionRequest;
  /** The session before the step (not changed). */
  state: SessionRecord;
  nowMs: number;
  topUpUrl?: string;
  rate: SessionRater;
  decisions: Decisions;
}

/** A chunk's price exact to the nano (rounded up only to the nano): the tariff rounds once, at the end. */
const exactNano = (r: RatingResult) => Number((r.exactNum * 1_000_000_000n + r.exactDen - 1n) / r.exactDen);
const base = (s: SessionRecord, usage: number) => usageToBase(s.tor, usage);

/** What settling `units` from a reservation with these holds moves, or null when it cannot be told. */
function predictSettle(
  g: Group,
  units: number,
  amountNano: number,
  nowMs: number,
): { moneyNano: number; units: number; priced?: { covered: number; moneyNano: number } } | null {
  if (!g.reservationId || !g.holds || (g.reservationExpiresMs ?? 0) <= nowMs) return null;
  const held = (money: boolean) =>
    g.holds!.filter((h) => (h.unit === 'money') === money).reduce((s, h) => s + h.amount, 0);
  // Units held: the charge's own and generic ones (both pay usage: docs/BALANCES.md).
  const covered = Math.min(units, held(false));
  if (covered === units) return { moneyNano: 0, units };
  const money = covered === 0 ? amountNano : proRata(amountNano, units - covered, units);
  if (money > held(true)) return null; // more than is held: the step debits, from whatever pays
  return {
    moneyNano: money,
    units: covered,
    ...(covered > 0 ? { priced: { covered, moneyNano: money } } : {}),
  };
}

class Planner {
  readonly ops: StepOp[] = [];
  readonly refs: { rg: number; role: OpRole }[] = [];
  readonly s: SessionRecord;
  barred = false;

  constructor(private readonly i: StepInput) {
    this.s = structuredClone(i.state);
  }

  private op(rg: number, role: OpRole, op: StepOp): void {
    this.ops.push(op);
    this.refs.push({ rg, role });
  }

  private group(rg: number): Group {
    return (this.s.groups[rg] ??= newGroup());
  }

  /** Settles used units of a group: commit its reservation, or debit directly if it is gone. */
  settle(rg: number, usage: number): ResultName {
    const { s, i } = this;
    const g = this.group(rg);
    const refused = i.decisions.settleRefused.get(rg);
    if (refused) return refused;
    const rated = i.rate(s, usage, base(s, g.used), i.req.eventTime);
    if (!rated) return 'DIAMETER_RATING_FAILED';
    const charge = {
      unit: s.tor,
      units: rated.usage,
      amountNano: exactNano(rated),
      destination: rated.segments[0]!.balanceDestinations,
      category: s.category,
      ratingGroup: rg,
    };
    const forecast = predictSettle(g, charge.units, charge.amountNano, i.nowMs);
    const predicted = i.decisions.settleOutcome.get(rg) ?? forecast;
    const priced = i.decisions.settlePriced.get(rg) ?? forecast?.priced;
    this.op(rg, 'settle', {
      verb: 'settle',
      ...(g.reservationId ? { reservationId: g.reservationId } : {}),
      charge,
      ...(priced ? { priced } : {}),
      expect: predicted ? { moneyNano: predicted.moneyNano, units: predicted.units } : 'probe',
    });
    g.used += usage;
    g.chargedNano += predicted?.moneyNano ?? 0;
    if ((predicted?.units ?? 0) > 0) g.bundles = true;
    this.dropReservation(g);
    return 'DIAMETER_SUCCESS';
  }

  private dropReservation(g: Group): void {
    g.reservationId = null;
    delete g.holds;
    delete g.reservationExpiresMs;
  }

  release(rg: number): void {
    const g = this.group(rg);
    if (!g.reservationId) return;
    this.op(rg, 'release', { verb: 'release', reservationId: g.reservationId });
    this.dropReservation(g);
  }

  /** Reserves the quota (or what the balances afford of it, as the final units); the group's answer. */
  grant(rg: number, quota: number): MsccAnswer {
    const { s, i } = this;
    const g = this.group(rg);
    const refused = i.decisions.reserveRefused.get(rg);
    if (refused) return { ratingGroup: rg, resultCode: result(refused).resultCode };
    const asked = i.decisions.grant.get(rg) ?? quota;
    const chunk = asked > 0 ? i.rate(s, asked, base(s, g.used), i.req.eventTime) : null;
    if (asked > 0 && !chunk)
      return { ratingGroup: rg, resultCode: result('DIAMETER_RATING_FAILED').resultCode };
    const units = chunk && hasDisconnectCap(chunk) ? Math.min(asked, this.capLeft(g, asked)) : asked;
    if (units <= 0)
      return { ratingGroup: rg, resultCode: result('DIAMETER_CREDIT_LIMIT_REACHED').resultCode };
    const rated = units === asked ? chunk : i.rate(s, units, base(s, g.used), i.req.eventTime);
    if (!rated) return { ratingGroup: rg, resultCode: result('DIAMETER_RATING_FAILED').resultCode };
    const validity = VALIDITY_SECONDS[s.tor]!;
    const reservationId = `${i.sessionId}#${rg}#${i.req.requestNumber}${units < quota ? 'p' : ''}`;
    const expiresMs = i.nowMs + 2 * validity * 1000;
    const priced = i.decisions.reservePriced.get(rg);
    this.op(rg, 'reserve', {
      verb: 'reserve',
      reservationId,
      expiresMs,
      charge: {
        unit: s.tor,
        units: rated.usage,
        amountNano: exactNano(rated),
        destination: rated.segments[0]!.balanceDestinations,
        category: s.category,
        ratingGroup: rg,
      },
      ...(priced ? { priced } : {}),
    });
    g.reservationId = reservationId;
    g.reservationExpiresMs = expiresMs;
    g.quota = units;
    return {
      ratingGroup: rg,
      resultCode: result('DIAMETER_SUCCESS').resultCode,
      granted: unitsFor(s, units), // in the field the service context counts (s.usage)
      validityTime: validity,
      ...(units < quota
        ? { finalUnitIndication: finalUnitFor(s.tor, i.topUpUrl, s.subscriber) }
        : thresholdFor(s.tor, units)),
    };
  }

  /**
   * What a `*disconnect` max cost leaves of `quota` after the group's usage so far: as CGRateS
   * does, the cap is on the session's whole cost (what was used and what is granted, priced from
   * the start as the terminate prices it), not on each chunk.
   */
  private capLeft(g: Group, quota: number): number {
    const { s, i } = this;
    const whole = i.rate(s, g.used + quota, 0, s.startedAt);
    if (!whole) return 0;
    const usage = disconnectUsage(whole);
    return wholeUsage(s.tor, usage) - g.used;
  }

  /**
   * At the end: each group's usage priced as one event and rounded once, as the tariff says; the
   * difference to what the chunks charged (exact to the nano) is debited or refunded.
   */
  finalSettlement(): void {
    const { s, i } = this;
    for (const [key, g] of Object.entries(s.groups)) {
      const rg = Number(key);
      if (g.used === 0 || g.bundles || i.decisions.finalRefused.has(rg)) continue;
      const total = i.rate(s, g.used, 0, s.startedAt);
      if (!total) continue;
      const diff = Number(total.costNano) - g.chargedNano;
      if (diff > 0)
        this.op(rg, 'final', {
          verb: 'debit',
          charge: { unit: s.tor, units: 0, amountNano: diff, category: s.category },
          expect: { moneyNano: diff, units: 0 },
        });
      else if (diff < 0)
        this.op(rg, 'final', {
          verb: 'refund',
          charge: { unit: s.tor, units: 0, amountNano: -diff },
          expect: { moneyNano: diff, units: 0 },
        });
      g.chargedNano += diff;
    }
  }
}

/** The answers of the request's rating groups, with their operations planned. */
function planGroups(p: Planner, i: StepInput, phase: StepPhase): MsccAnswer[] {
  const kind = { tor: p.s.tor, ...(p.s.usage ? { usage: p.s.usage } : {}) };
  const answers: MsccAnswer[] = [];
  for (const m of i.req.mscc ?? []) {
    const used = (m.used ?? []).reduce((sum, u) => sum + (usageOf(kind, u) ?? 0), 0);
    const settled = used > 0 ? p.settle(m.ratingGroup, used) : 'DIAMETER_SUCCESS';
    if (settled === 'DIAMETER_END_USER_SERVICE_DENIED') p.barred = true;
    const closing = phase === 'terminate' || phase === 'expire';
    if (closing || m.requested === undefined || p.barred) {
      if (closing || m.requested === undefined) p.release(m.ratingGroup);
      answers.push({ ratingGroup: m.ratingGroup, resultCode: result(settled).resultCode });
      continue;
    }
    p.release(m.ratingGroup); // renewed: the old reservation goes, a new one is made
    const quota = usageOf(kind, m.requested) ?? DEFAULT_QUOTA[p.s.tor]!;
    const a = p.grant(m.ratingGroup, quota);
    if (a.resultCode === result('DIAMETER_END_USER_SERVICE_DENIED').resultCode) p.barred = true;
    answers.push(a);
  }
  return answers;
}

function closeRecords(i: StepInput, s: SessionRecord, cause: string, resultCode: number): string[] {
  const out: string[] = [];
  for (const [rg, g] of Object.entries(s.groups)) {
    if (g.used === 0) continue;
    const total = i.rate(s, g.used, 0, s.startedAt);
    out.push(
      JSON.stringify({
        record_id: `session:${i.sessionId}:${rg}`,
        tenant: i.tenant,
        account_id: s.accountId,
        kind: 'session',
        category: s.category,
        tor: s.tor,
        destination: total?.segments[0]?.destination ?? s.destination,
        started_at: s.startedAt,
        usage: g.used,
        cost_nano: g.chargedNano,
        currency: s.currency,
        result_code: resultCode,
        close_cause: cause,
        breakdown: total
          ? { ratingGroup: Number(rg), paidByBundles: g.bundles, ...describeResult(total) }
          : null,
      }),
    );
  }
  return out;
}

/** A trail entry without its answer (the step writes the answer beside it: see storage/outbox.ts). */
export function trailEntry(
  tenant: string,
  id: string,
  requestNumber: number,
  phase: string,
  request: unknown,
  at: string,
): string {
  return JSON.stringify({ tenant, session_id: id, request_number: requestNumber, phase, request, at });
}

/**
 * Plans a step. A session past its Tcc deadline has expired: a late report is still charged (by a
 * direct debit: its reservations are gone), the session stays closed, and an update learns it (5002).
 */
export function planStep(i: StepInput): PlannedStep {
  const p = new Planner(i);
  const s = p.s;
  const late = i.phase !== 'initiate' && (s.state === 'closed' || s.expiresAtMs <= i.nowMs);
  const req = late ? { ...i.req, mscc: i.req.mscc?.map(({ requested: _q, ...m }) => m) } : i.req;
  const answers = planGroups(p, { ...i, req }, i.phase);
  const closing = i.phase === 'terminate' || i.phase === 'expire' || p.barred || late;
  if (closing) {
    for (const rg of Object.keys(s.groups)) p.release(Number(rg));
    if (i.phase === 'terminate' || i.phase === 'expire') p.finalSettlement();
    s.state = 'closed';
  }
  const tccSeconds = 2 * VALIDITY_SECONDS[s.tor]!;
  s.expiresAtMs = i.nowMs + tccSeconds * 1000;
  s.lastRequest = Math.max(s.lastRequest, i.req.requestNumber);
  const command =
    late && i.phase === 'update'
      ? 'DIAMETER_UNKNOWN_SESSION_ID'
      : commandResult(i.phase === 'expire' ? 'terminate' : i.phase, p.barred, answers);
  const total = Object.values(s.groups).reduce((sum, g) => sum + g.chargedNano, 0);
  // A refused initiate (4012, 5031, 4010...) opens no session: only its answer is kept, for replays.
  const keepsSession = i.phase !== 'initiate' || command === 'DIAMETER_SUCCESS';
  const answer: SessionAnswer = {
    sessionId: i.sessionId,
    requestNumber: i.req.requestNumber,
    ...result(command),
    ...(keepsSession && s.state === 'open'
      ? { sessionExpiresAt: new Date(s.expiresAtMs).toISOString() }
      : {}),
    mscc: answers,
    ...(i.phase === 'terminate' || i.phase === 'expire'
      ? { costInformation: { amount: nanoToDecimal(total), currency: s.currency } }
      : {}),
  };
  const cause =
    i.phase === 'expire'
      ? 'TCC_EXPIRED'
      : (req.terminationCause ?? (late ? 'TCC_EXPIRED' : answer.resultName));
  const rated = s.state === 'closed' ? closeRecords(i, s, cause, answer.resultCode) : [];
  const trail = trailEntry(i.tenant, i.sessionId, i.req.requestNumber, i.phase, i.req, i.req.eventTime);
  return { ops: p.ops, refs: p.refs, state: s, keepsSession, answer, rated, trail };
}
