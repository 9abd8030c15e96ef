/**
 * Charging sessions (Diameter CCR-I/U/T, SCUR). Each request is one charging step: planned here
 * (session-plan.ts: what to settle, release and reserve, the session after it, the answer and the
 * records; session-request.ts: the step as the script is asked it; session-learn.ts: what the
 * balances said, as decisions for the next plan) and applied by one atomic script, which also
 * stores the answer — so a retry or a late original gets the first answer byte for byte and moves
 * no money twice, and a crash leaves either all of a request or none of it. When the balances disagree with the plan (short of credit, barred,
 * bundles covering part), the step is planned again with what they said.
 *
 * Sessions are remembered per process (state and version): a request costs one round trip. The
 * version makes this safe with several engines: a step planned on an old state is refused (STALE)
 * and planned again on the current one. Requests of one session run one at a time per process.
 * A session that goes silent past its Tcc deadline is closed by the sweep (its usage recorded); a
 * late report is still charged.
 */
import type { BalanceStore } from '../balances/store.js';
import type { StepOutcome } from '../balances/step.js';
import { parseEvent, rateEvent, type CompiledTariff, type RatingResult } from '../rating/index.js';
import type { Directory } from './directory.js';
import { result, type ResultName } from './result-codes.js';
import { destinationOf, serviceKind } from './service-context.js';
import { learn } from './session-learn.js';
import {
  fingerprintOf,
  sessionFrom,
  SessionError,
  type Phase,
  type SessionAnswer,
  type SessionRecord,
  type SessionRequest,
  type StepPhase,
} from './session-model.js';
import { noDecisions, planStep, trailEntry, type PlannedStep } from './session-plan.js';
import { heldChange, refusedRequest, stepRequest } from './session-request.js';

export { SessionError, type Phase, type SessionAnswer, type SessionRequest } from './session-model.js';

export interface SessionDeps {
  /** Told of every change of the money held by this engine's reservations (nano; a metric). */
  onHeld?: (deltaNano: number) => void;
  /** Told when a step of this engine opens (+1) or closes (-1) a session (a metric). */
  onOpenSessions?: (delta: 1 | -1) => void;
  /** The top-up portal data sessions are redirected to on their final units (may hold `{msisdn}`). */
  topUpUrl?: string;
  balances: BalanceStore;
  directory: Directory;
  tariff: () => CompiledTariff;
  now: () => number;
  /** Sessions remembered by this process (least recently used go first). */
  cacheSize?: number;
}

interface Known {
  accountId: string;
  version: number;
  state: SessionRecord;
}

export interface HandledAnswer {
  answer: SessionAnswer;
  /** The answer as stored: what a replay returns, byte for byte. */
  json: string;
  replayed: boolean;
}

/** A step is planned again when the balances disagree; a few rounds settle any request. */
const MAX_TRIES = 8;

/** An expiry planned on an old state finds the session closed or renewed: nothing to expire. */
class NoLongerDue extends Error {}

export function createSessions(deps: SessionDeps) {
  const known = new Map<string, Known>();
  const cacheSize = deps.cacheSize ?? 100_000;
  const remember = (k: string, v: Known) => {
    known.delete(k);
    if (known.size >= cacheSize) known.delete(known.keys().next().value!);
    known.set(k, v);
  };
  const queues = new Map<string, Promise<unknown>>();
  function serialised<T>(k: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(k) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    queues.set(k, next);
    void next.catch(() => undefined).finally(() => queues.get(k) === next && queues.delete(k));
    return next;
  }

  function rate(s: SessionRecord, usage: number, elapsedBefore: number, atIso: string): RatingResult | null {
    const ev = parseEvent({
      tenant: s.tenant,
      category: s.category,
      subject: s.subject,
      destination: s.destination,
      answerTime: atIso,
      usage,
      tor: s.tor,
    });
    if ('ok' in ev) return null;
    const r = rateEvent(deps.tariff(), { ...ev, elapsedBefore, firstSegment: elapsedBefore === 0 });
    return r.ok ? r : null;
  }

  async function load(tenant: string, sessionId: string): Promise<Known | null> {
    const k = `${tenant}\u0000${sessionId}`;
    const hit = known.get(k);
    if (hit) return hit;
    const found = await deps.balances.findSession(tenant, sessionId);
    if (!found) return null;
    const v = {
      accountId: found.accountId,
      version: found.version,
      state: sessionFrom(found.info, found.state),
    };
    remember(k, v);
    return v;
  }

  /** A new session's record, or the answer of an initiate that opens none (nobody to charge). */
  async function open(
    tenant: string,
    sessionId: string,
    req: SessionRequest,
  ): Promise<{ known: Known; subscription: string } | SessionAnswer> {
    if (!req.serviceContextId || !req.subscriptionIds?.length || !req.mscc?.length) {
      throw new SessionError(
        'MANDATORY_IE_MISSING',
        'initiate needs serviceContextId, subscriptionIds and mscc',
      );
    }
    const fail = (name: ResultName): SessionAnswer => ({
      sessionId,
      requestNumber: req.requestNumber,
      ...result(name),
      mscc: [],
    });
    const kind = serviceKind(deps.tariff(), req.serviceContextId);
    if (!kind) return fail('DIAMETER_RATING_FAILED');
    const found = await deps.directory.find(tenant, req.subscriptionIds);
    if (!found) return fail('DIAMETER_USER_UNKNOWN');
    const a = found.account;
    const state: SessionRecord = {
      tenant,
      accountId: a.id,
      subject: a.subject,
      currency: a.currency,
      category: kind.category,
      tor: kind.tor,
      usage: kind.usage,
      destination: destinationOf(deps.tariff(), tenant, req.serviceInformation),
      state: 'open',
      expiresAtMs: deps.now(),
      startedAt: req.eventTime,
      subscriber: req.subscriptionIds[0]!.data,
      groups: {},
      lastRequest: 0,
    };
    return { known: { accountId: a.id, version: 0, state }, subscription: found.subscription };
  }

  /** What an applied step changes in this process: the metrics, the reservations' holds, the cache. */
  function applied(key: string, k: Known, phase: StepPhase, plan: PlannedStep, outcome: StepOutcome): void {
    if (outcome.status !== 'APPLIED') return;
    const delta = heldChange(k.state, plan, outcome);
    if (delta !== 0) deps.onHeld?.(delta);
    const isOpen = plan.keepsSession && plan.state.state !== 'closed';
    if (phase === 'initiate' && isOpen) deps.onOpenSessions?.(1);
    if (phase !== 'initiate' && k.state.state !== 'closed' && !isOpen) deps.onOpenSessions?.(-1);
    plan.refs.forEach(({ rg, role }, i) => {
      if (role === 'reserve') plan.state.groups[rg]!.holds = outcome.results[i]!.holds!;
    });
    if (plan.keepsSession)
      remember(key, { accountId: k.accountId, version: outcome.version, state: plan.state });
  }

  /**
   * The session a request steps from: the one stored, or for an initiate a new one (or the answer
   * of an initiate that opens none: nobody to charge); `ids` learns the subscription it found.
   */
  async function sessionFor(
    tenant: string,
    sessionId: string,
    phase: StepPhase,
    req: SessionRequest,
    ids: { subscription: string | undefined },
  ): Promise<Known | SessionAnswer> {
    if (phase !== 'initiate') {
      const found = await load(tenant, sessionId);
      if (found === null) throw new SessionError('SESSION_NOT_FOUND', `no charging session ${sessionId}`);
      return found;
    }
    const opened = await open(tenant, sessionId, req);
    if ('resultCode' in opened) return opened;
    ids.subscription = opened.subscription;
    return opened.known;
  }

  /** The session as the step found it, moved on by another engine since this one planned (STALE). */
  function moved(key: string, k: Known, phase: StepPhase, sessionId: string, outcome: StepOutcome): Known {
    if (phase === 'initiate')
      throw new SessionError('SESSION_EXISTS', `session ${sessionId} is already open`);
    if (outcome.status !== 'STALE') return k;
    const now = {
      accountId: k.accountId,
      version: outcome.version,
      state: sessionFrom(outcome.info, outcome.state),
    };
    remember(key, now);
    // The sweep saw an old state: the session may have been closed or renewed since.
    if (phase === 'expire' && !dueNow(now.state)) throw new NoLongerDue();
    return now;
  }

  async function step(
    tenant: string,
    sessionId: string,
    phase: StepPhase,
    req: SessionRequest,
    fp: string,
    requestKey: string,
  ): Promise<HandledAnswer> {
    const key = `${tenant}\u0000${sessionId}`;
    const ids = { fp, requestKey, subscription: undefined as string | undefined };
    const fresh = () => sessionFor(tenant, sessionId, phase, req, ids);
    const first = await fresh();
    if ('resultCode' in first) return noAccount(tenant, phase, req, first);
    let k: Known = first;
    let d = noDecisions();
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const plan = planStep({
        tenant,
        sessionId,
        phase,
        req,
        state: k.state,
        nowMs: deps.now(),
        rate,
        decisions: d,
        ...(deps.topUpUrl ? { topUpUrl: deps.topUpUrl } : {}),
      });
      const json = JSON.stringify(plan.answer);
      const outcome = await deps.balances.step(
        tenant,
        k.accountId,
        stepRequest(k, phase, req, ids, plan, json),
      );
      switch (outcome.status) {
        case 'APPLIED':
          applied(key, k, phase, plan, outcome);
          return { answer: plan.answer, json, replayed: false };
        case 'REPLAY':
          return {
            answer: JSON.parse(outcome.answer) as SessionAnswer,
            json: outcome.answer,
            replayed: true,
          };
        case 'CONFLICT':
        case 'TOO_OLD':
          throw refusedRequest(sessionId, phase, req, outcome);
        case 'STALE':
          k = moved(key, k, phase, sessionId, outcome);
          d = noDecisions();
          break;
        case 'CHANGED': {
          deps.directory.forget(tenant, req.subscriptionIds ?? []);
          const again = await fresh();
          if ('resultCode' in again) return noAccount(tenant, phase, req, again);
          k = again;
          d = noDecisions();
          break;
        }
        case 'DEVIATED':
          await learn({ balances: deps.balances, now: deps.now, rate }, k.state, plan, outcome, d, req);
          break;
      }
    }
    throw new SessionError('BUSY', `session ${sessionId}: the balances kept changing while charging; retry`);
  }

  /** An answer no account can keep (unknown subscriber, unknown service): its trail still is kept. */
  async function noAccount(
    tenant: string,
    phase: StepPhase,
    req: SessionRequest,
    answer: SessionAnswer,
  ): Promise<HandledAnswer> {
    const json = JSON.stringify(answer);
    await deps.balances.recordOrphan(
      tenant,
      trailEntry(tenant, answer.sessionId, req.requestNumber, phase, req, req.eventTime),
      json,
    );
    return { answer, json, replayed: false };
  }

  function checkRequestNumber(phase: Phase, req: SessionRequest): void {
    if ((phase === 'initiate') !== (req.requestNumber === 0)) {
      throw new SessionError(
        'INVALID_REQUEST_NUMBER',
        phase === 'initiate'
          ? 'initiate must have requestNumber 0'
          : 'update and terminate need requestNumber >= 1',
      );
    }
  }

  /** Closes a silent session whose Tcc deadline passed (the sweep); false if it was not due. */
  function dueNow(s: SessionRecord): boolean {
    return s.state !== 'closed' && s.expiresAtMs <= deps.now();
  }

  async function expire(tenant: string, sessionId: string): Promise<boolean> {
    const k = await load(tenant, sessionId);
    if (k && dueNow(k.state)) {
      const req: SessionRequest = {
        requestNumber: k.state.lastRequest,
        eventTime: new Date(deps.now()).toISOString(),
        mscc: [],
      };
      try {
        await step(tenant, sessionId, 'expire', req, 'expire', 'x');
        return true;
      } catch (err) {
        if (!(err instanceof NoLongerDue)) throw err;
      }
    }
    // Closed, gone or renewed: the hint follows what the session is now.
    const now = await load(tenant, sessionId);
    const open = now && now.state.state !== 'closed';
    await deps.balances.hintSession(tenant, sessionId, open ? now.state.expiresAtMs : null);
    return false;
  }

  return {
    /** Handles one request of a session; returns the answer and whether it is a replay. */
    handle(tenant: string, sessionId: string, phase: Phase, req: SessionRequest): Promise<HandledAnswer> {
      checkRequestNumber(phase, req);
      return serialised(`${tenant}\u0000${sessionId}`, () =>
        step(tenant, sessionId, phase, req, fingerprintOf(phase, req), `a:${req.requestNumber}`),
      );
    },

    async get(tenant: string, sessionId: string): Promise<SessionRecord | null> {
      const found = await deps.balances.findSession(tenant, sessionId);
      return found ? sessionFrom(found.info, found.state) : null;
    },

    /** Closes the sessions whose Tcc deadline passed, at most `limit`; returns how many. */
    async sweep(limit = 500): Promise<number> {
      let closed = 0;
      for (const { tenant, sessionId } of await deps.balances.dueSessions(limit)) {
        const done = await serialised(`${tenant}\u0000${sessionId}`, () => expire(tenant, sessionId));
        if (done) closed++;
      }
      return closed;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
