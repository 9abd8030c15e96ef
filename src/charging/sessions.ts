/**
 * Charging sessions (Diameter CCR-I/U/T, SCUR): per rating group, used units are settled (commit of
 * the group's reservation, or a direct debit when there is none left) and new units are reserved
 * for what the balances can afford, with a final-unit indication when they cannot afford all.
 *
 * Safety: every balance operation is idempotent by (session, request number, rating group, step),
 * so a retry or a late original moves no money twice; the answer is kept per request number and a
 * replay returns it as first given (a different body under the same number is a conflict).
 * Reservations carry a TTL (twice the validity time): a silent session releases its money.
 */
import type { Redis } from 'ioredis';
import type { OpResult } from '../balances/snapshot.js';
import type { BalanceStore } from '../balances/store.js';
import type { RecordSink } from '../storage/records.js';
import { describeResult } from '../rating/index.js';
import { affordableUsage, type BalanceSnapshot } from '../rating/affordable.js';
import {
  nanoToDecimal,
  parseEvent,
  rateEvent,
  type CompiledTariff,
  type RatingResult,
} from '../rating/index.js';
import { result, type ResultName } from './result-codes.js';
import { destinationOf, findSubscriber, serviceKind, unitsFor, usageOf } from './service-context.js';
import {
  commandResult,
  DEFAULT_QUOTA,
  finalUnitFor,
  fingerprintOf,
  newGroup,
  SessionError,
  thresholdFor,
  VALIDITY_SECONDS,
  type MsccAnswer,
  type Phase,
  type SessionAnswer,
  type SessionRecord,
  type SessionRequest,
} from './session-model.js';

export { SessionError, type Phase, type SessionAnswer, type SessionRequest } from './session-model.js';

export interface SessionDeps {
  /** Told of every change of the money held by this engine's reservations (nano; a metric). */
  onHeld?: (deltaNano: number) => void;
  /** The top-up portal data sessions are redirected to on their final units (may hold `{msisdn}`). */
  topUpUrl?: string;
  /** Where each group's rated record (at close) and each request's trail entry go. */
  record: RecordSink;
  redis: Redis;
  keyPrefix: string;
  balances: BalanceStore;
  tariff: () => CompiledTariff;
  now: () => number;
}

/** The store, with the money its reservations hold reported as it changes (for a metric). */
function watchHolds(store: BalanceStore, onHeld: ((deltaNano: number) => void) | undefined): BalanceStore {
  if (!onHeld) return store;
  const track = (r: OpResult) => {
    if (r.code === 'OK' && !r.replayed) {
      const delta = r.movements.reduce((sum, m) => sum + (m.unit === 'money' ? m.heldDelta : 0), 0);
      if (delta !== 0) onHeld(delta);
    }
    return r;
  };
  return {
    ...store,
    reserve: async (...a) => track(await store.reserve(...a)),
    commit: async (...a) => track(await store.commit(...a)),
    release: async (...a) => track(await store.release(...a)),
  };
}

export function createSessions(sessionDeps: SessionDeps) {
  const deps = { ...sessionDeps, balances: watchHolds(sessionDeps.balances, sessionDeps.onHeld) };
  const key = (tenant: string, sessionId: string) => `${deps.keyPrefix}{sess:${tenant}:${sessionId}}`;
  /**
   * Requests of one session run one at a time (parallel or out-of-order updates of the same
   * session would otherwise read the same state). This serialises within one engine process;
   * several engines behind a balancer must route a session to one engine (its Session-Id).
   */
  const queues = new Map<string, Promise<unknown>>();
  function serialised<T>(k: string, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(k) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    queues.set(k, next);
    void next.catch(() => undefined).finally(() => queues.get(k) === next && queues.delete(k));
    return next;
  }

  async function load(tenant: string, sessionId: string): Promise<SessionRecord | null> {
    const raw = await deps.redis.get(`${key(tenant, sessionId)}:state`);
    return raw ? (JSON.parse(raw) as SessionRecord) : null;
  }

  async function save(
    tenant: string,
    sessionId: string,
    s: SessionRecord,
    ttlSeconds: number,
  ): Promise<void> {
    await deps.redis.set(`${key(tenant, sessionId)}:state`, JSON.stringify(s), 'EX', ttlSeconds + 86_400);
  }

  /** The usage of a rating group's reports, in base units of the rating core. */
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

  /**
   * A chunk's price, exact to the nano (rounded up only to the nano): the tariff's rounding applies
   * once, to the whole session, when it terminates (see finalSettlement).
   */
  const exactNano = (r: RatingResult) => Number((r.exactNum * 1_000_000_000n + r.exactDen - 1n) / r.exactDen);
  const base = (s: SessionRecord, usage: number) => (s.tor === 'voice' ? usage * 1e9 : usage);
  const fromBase = (s: SessionRecord, b: number) => (s.tor === 'voice' ? Math.floor(b / 1e9) : b);

  /** Settles used units of one group: commit its reservation, or debit directly if it is gone. */
  async function settle(
    s: SessionRecord,
    sessionId: string,
    n: number,
    rg: number,
    usage: number,
    at: string,
  ): Promise<ResultName> {
    const g = s.groups[rg] ?? (s.groups[rg] = newGroup());
    const rated = rate(s, usage, base(s, g.used), at);
    if (!rated) return 'DIAMETER_RATING_FAILED';
    const charge = {
      unit: s.tor,
      units: rated.usage,
      amountNano: exactNano(rated),
      destination: rated.segments[0]!.destination,
      category: s.category,
      ratingGroup: rg,
    };
    const opBase = `${sessionId}#${n}#${rg}`;
    let r = g.reservationId
      ? await deps.balances.commit(s.tenant, s.accountId, {
          opId: `${opBase}#use`,
          reservationId: g.reservationId,
          used: charge,
        })
      : null;
    if (!r || r.code === 'RESERVATION_NOT_FOUND' || r.code === 'RESERVATION_EXCEEDED') {
      if (g.reservationId)
        await deps.balances.release(s.tenant, s.accountId, {
          opId: `${opBase}#free`,
          reservationId: g.reservationId,
        });
      r = await deps.balances.debit(s.tenant, s.accountId, { opId: `${opBase}#debit`, charge });
    }
    g.reservationId = null;
    if (r.code !== 'OK')
      return r.code === 'ACCOUNT_INACTIVE'
        ? 'DIAMETER_END_USER_SERVICE_DENIED'
        : 'DIAMETER_CREDIT_LIMIT_REACHED';
    g.used += usage;
    for (const m of r.movements) {
      if (m.unit === 'money') g.chargedNano -= m.delta;
      else if (m.delta < 0) g.bundles = true;
    }
    return 'DIAMETER_SUCCESS';
  }

  /** Reserves what the balances afford of the quota; returns the group's answer. */
  /** Reserves the charge of `units` of a group under a reservation id; the store's result. */
  function hold(s: SessionRecord, rg: number, reservationId: string, opId: string, held: RatingResult) {
    return deps.balances.reserve(s.tenant, s.accountId, {
      opId,
      reservationId,
      ttlSeconds: 2 * VALIDITY_SECONDS[s.tor]!,
      charge: {
        unit: s.tor,
        units: held.usage,
        amountNano: exactNano(held),
        destination: held.segments[0]!.destination,
        category: s.category,
        ratingGroup: rg,
      },
    });
  }

  /** How much of `quota` the balances can pay now (a snapshot; the reservation re-checks it). */
  async function affordable(s: SessionRecord, rated: RatingResult, quota: number): Promise<number> {
    const view = await deps.balances.getAccount(s.tenant, s.accountId);
    if (!view) return 0;
    const snapshot: BalanceSnapshot[] = view.balances.map((b) => ({
      id: `${b.scope}:${b.id}`,
      unit: b.unit,
      value: BigInt(Math.max(0, b.value - b.held)),
      weight: b.weight,
      destinations: b.destinations,
      blocker: false,
    }));
    return Math.min(quota, fromBase(s, affordableUsage(rated, snapshot).usage));
  }

  /**
   * Reserves the quota; when the balances cannot pay all of it, reserves what they can and marks it
   * the final units. The common case costs one script call; the snapshot only the short case.
   */
  async function grant(
    s: SessionRecord,
    sessionId: string,
    n: number,
    rg: number,
    quota: number,
    at: string,
  ): Promise<MsccAnswer> {
    const g = s.groups[rg] ?? (s.groups[rg] = newGroup());
    const rated = rate(s, quota, base(s, g.used), at);
    if (!rated) return { ratingGroup: rg, resultCode: result('DIAMETER_RATING_FAILED').resultCode };
    let reservationId = `${sessionId}#${rg}#${n}`;
    let grantedUnits = quota;
    let r = await hold(s, rg, reservationId, `${sessionId}#${n}#${rg}#reserve`, rated);
    if (r.code === 'INSUFFICIENT') {
      grantedUnits = await affordable(s, rated, quota);
      if (grantedUnits <= 0)
        return { ratingGroup: rg, resultCode: result('DIAMETER_CREDIT_LIMIT_REACHED').resultCode };
      reservationId = `${reservationId}p`;
      r = await hold(
        s,
        rg,
        reservationId,
        `${sessionId}#${n}#${rg}#reserve-part`,
        rate(s, grantedUnits, base(s, g.used), at)!,
      );
    }
    if (r.code !== 'OK') {
      const name: ResultName =
        r.code === 'ACCOUNT_INACTIVE'
          ? 'DIAMETER_END_USER_SERVICE_DENIED'
          : r.code === 'ACCOUNT_NOT_FOUND'
            ? 'DIAMETER_USER_UNKNOWN'
            : 'DIAMETER_CREDIT_LIMIT_REACHED';
      return { ratingGroup: rg, resultCode: result(name).resultCode };
    }
    const validity = VALIDITY_SECONDS[s.tor]!;
    g.reservationId = reservationId;
    g.quota = grantedUnits;
    return {
      ratingGroup: rg,
      resultCode: result('DIAMETER_SUCCESS').resultCode,
      granted: unitsFor({ category: s.category, tor: s.tor }, grantedUnits),
      validityTime: validity,
      ...(grantedUnits < quota
        ? { finalUnitIndication: finalUnitFor(s.tor, deps.topUpUrl, s.subscriber) }
        : thresholdFor(s.tor, grantedUnits)),
    };
  }

  /**
   * At terminate: the session's usage of each group is priced as one event and rounded once, as the
   * tariff says; the difference to what the chunks charged (exact to the nano) is debited or refunded.
   */
  async function finalSettlement(
    s: SessionRecord,
    sessionId: string,
    n: number,
    firstAt: string,
  ): Promise<void> {
    for (const [rg, g] of Object.entries(s.groups)) {
      if (g.used === 0 || g.bundles) continue;
      const total = rate(s, g.used, 0, firstAt);
      if (!total) continue;
      const diff = Number(total.costNano) - g.chargedNano;
      const opId = `${sessionId}#${n}#${rg}#settle`;
      if (diff > 0) {
        const r = await deps.balances.debit(s.tenant, s.accountId, {
          opId,
          charge: { unit: s.tor, units: 0, amountNano: diff, category: s.category },
        });
        if (r.code === 'OK') g.chargedNano += diff;
      } else if (diff < 0) {
        const wallet = (await deps.balances.getAccount(s.tenant, s.accountId))?.balances
          .filter((b) => b.unit === 'money')
          .sort((a, b) => b.weight - a.weight)[0];
        if (!wallet) continue;
        const r = await deps.balances.credit(s.tenant, s.accountId, {
          opId,
          balanceId: wallet.id,
          shared: wallet.shared,
          amount: -diff,
          kind: 'refund',
        });
        if (r.code === 'OK') g.chargedNano += diff;
      }
    }
  }

  /** One rated record per rating group of a closed session, priced as one event. */
  async function recordClose(
    s: SessionRecord,
    sessionId: string,
    cause: string,
    resultCode: number,
  ): Promise<void> {
    for (const [rg, g] of Object.entries(s.groups)) {
      if (g.used === 0) continue;
      const total = rate(s, g.used, 0, s.startedAt);
      await deps.record('rated_records', {
        record_id: `session:${sessionId}:${rg}`,
        tenant: s.tenant,
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
      });
    }
  }

  async function open(
    tenant: string,
    sessionId: string,
    req: SessionRequest,
  ): Promise<SessionRecord | SessionAnswer> {
    if (!req.serviceContextId || !req.subscriptionIds?.length || !req.mscc?.length) {
      throw new SessionError(
        'MANDATORY_IE_MISSING',
        'initiate needs serviceContextId, subscriptionIds and mscc',
      );
    }
    const kind = serviceKind(req.serviceContextId);
    const fail = (name: ResultName): SessionAnswer => ({
      sessionId,
      requestNumber: req.requestNumber,
      ...result(name),
      mscc: [],
    });
    if (!kind) return fail('DIAMETER_RATING_FAILED');
    const accountId = await findSubscriber(
      (t, type, v) => deps.balances.findAccountBySubscription(t, type, v),
      tenant,
      req.subscriptionIds,
    );
    const account = accountId ? await deps.balances.accountInfo(tenant, accountId) : null;
    if (!account) return fail('DIAMETER_USER_UNKNOWN');
    if (account.status !== 'active') return fail('DIAMETER_END_USER_SERVICE_DENIED');
    return {
      tenant,
      accountId: account.id,
      subject: account.subject,
      currency: account.currency,
      category: kind.category,
      tor: kind.tor,
      destination: destinationOf(req.serviceInformation),
      state: 'open',
      expiresAtMs: deps.now(),
      startedAt: req.eventTime,
      subscriber: req.subscriptionIds[0]!.data,
      groups: {},
    };
  }

  async function process(
    tenant: string,
    sessionId: string,
    phase: Phase,
    req: SessionRequest,
    s: SessionRecord,
  ): Promise<SessionAnswer> {
    const kind = { category: s.category, tor: s.tor };
    const answers: MsccAnswer[] = [];
    let barred = false;
    for (const m of req.mscc ?? []) {
      const usedUnits = (m.used ?? []).reduce((sum, u) => sum + (usageOf(kind, u) ?? 0), 0);
      let settled: ResultName = 'DIAMETER_SUCCESS';
      if (usedUnits > 0)
        settled = await settle(s, sessionId, req.requestNumber, m.ratingGroup, usedUnits, req.eventTime);
      if (settled === 'DIAMETER_END_USER_SERVICE_DENIED') barred = true;
      const g = s.groups[m.ratingGroup];
      if (g?.reservationId && (phase === 'terminate' || m.requested === undefined)) {
        await deps.balances.release(s.tenant, s.accountId, {
          opId: `${sessionId}#${req.requestNumber}#${m.ratingGroup}#release`,
          reservationId: g.reservationId,
        });
        g.reservationId = null;
      }
      if (phase !== 'terminate' && m.requested !== undefined && !barred) {
        if (g?.reservationId) {
          await deps.balances.release(s.tenant, s.accountId, {
            opId: `${sessionId}#${req.requestNumber}#${m.ratingGroup}#renew`,
            reservationId: g.reservationId,
          });
          g.reservationId = null;
        }
        const quota = usageOf(kind, m.requested) ?? DEFAULT_QUOTA[s.tor]!;
        const a = await grant(s, sessionId, req.requestNumber, m.ratingGroup, quota, req.eventTime);
        if (a.resultCode === result('DIAMETER_END_USER_SERVICE_DENIED').resultCode) barred = true;
        answers.push(a);
      } else {
        answers.push({ ratingGroup: m.ratingGroup, resultCode: result(settled).resultCode });
      }
    }
    if (phase === 'terminate' || barred) {
      for (const [rg, g] of Object.entries(s.groups)) {
        if (g.reservationId)
          await deps.balances.release(s.tenant, s.accountId, {
            opId: `${sessionId}#${req.requestNumber}#${rg}#close`,
            reservationId: g.reservationId,
          });
        g.reservationId = null;
      }
      if (phase === 'terminate') await finalSettlement(s, sessionId, req.requestNumber, s.startedAt);
      s.state = 'closed';
    }
    const total = Object.values(s.groups).reduce((sum, g) => sum + g.chargedNano, 0);
    const command = commandResult(phase, barred, answers);
    const tccSeconds = 2 * VALIDITY_SECONDS[s.tor]!;
    s.expiresAtMs = deps.now() + tccSeconds * 1000;
    return {
      sessionId,
      requestNumber: req.requestNumber,
      ...result(command),
      ...(s.state === 'open'
        ? { sessionExpiresAt: new Date(deps.now() + tccSeconds * 1000).toISOString() }
        : {}),
      mscc: answers,
      ...(phase === 'terminate'
        ? { costInformation: { amount: nanoToDecimal(total), currency: s.currency } }
        : {}),
    };
  }

  return {
    /** Handles one request of a session; returns the answer and whether it is a replay. */
    handle(
      tenant: string,
      sessionId: string,
      phase: Phase,
      req: SessionRequest,
    ): Promise<{ answer: SessionAnswer; replayed: boolean }> {
      return serialised(key(tenant, sessionId), () => handleOne(tenant, sessionId, phase, req));
    },

    async get(tenant: string, sessionId: string): Promise<SessionRecord | null> {
      return load(tenant, sessionId);
    },
  };

  async function handleOne(
    tenant: string,
    sessionId: string,
    phase: Phase,
    req: SessionRequest,
  ): Promise<{ answer: SessionAnswer; replayed: boolean }> {
    if ((phase === 'initiate') !== (req.requestNumber === 0)) {
      throw new SessionError(
        'INVALID_REQUEST_NUMBER',
        phase === 'initiate'
          ? 'initiate must have requestNumber 0'
          : 'update and terminate need requestNumber >= 1',
      );
    }
    const answerKey = `${key(tenant, sessionId)}:answer:${req.requestNumber}`;
    const fp = fingerprintOf(phase, req);
    const [stored, current] = await Promise.all([deps.redis.get(answerKey), load(tenant, sessionId)]);
    if (stored) {
      const [storedFp, json] = [stored.slice(0, 40), stored.slice(41)];
      if (storedFp !== fp && phase === 'initiate')
        throw new SessionError('SESSION_EXISTS', `session ${sessionId} was opened with a different request`);
      if (storedFp !== fp)
        throw new SessionError(
          'REQUEST_CONFLICT',
          `requestNumber ${req.requestNumber} was already processed with a different body`,
        );
      return { answer: JSON.parse(json) as SessionAnswer, replayed: true };
    }
    let s = current;
    if (phase === 'initiate') {
      if (s) throw new SessionError('SESSION_EXISTS', `session ${sessionId} is already open`);
      const opened = await open(tenant, sessionId, req);
      if (!('groups' in opened)) return { answer: opened, replayed: false };
      s = opened;
    } else if (!s) {
      throw new SessionError('SESSION_NOT_FOUND', `no charging session ${sessionId}`);
    }
    // A session past its Tcc deadline has expired: its reservations are released (by their TTL);
    // a late report is still charged, then the session is closed (an update learns it with 5002).
    if (s.state === 'open' && phase !== 'initiate' && s.expiresAtMs <= deps.now()) s.state = 'closed';
    const late = s.state === 'closed';
    const answer = await process(
      tenant,
      sessionId,
      phase,
      late ? { ...req, mscc: req.mscc?.map(({ requested: _q, ...m }) => m) } : req,
      s,
    );
    if (late) s.state = 'closed';
    if (late && phase === 'update') Object.assign(answer, result('DIAMETER_UNKNOWN_SESSION_ID'));
    const ttl = 2 * VALIDITY_SECONDS[s.tor]!;
    const cause = req.terminationCause ?? (late ? 'TCC_EXPIRED' : answer.resultName);
    const trail = {
      tenant,
      session_id: sessionId,
      request_number: req.requestNumber,
      phase,
      request: req,
      answer,
      at: req.eventTime,
    };
    await Promise.all([
      phase !== 'initiate' || answer.resultCode === 2001 ? save(tenant, sessionId, s, ttl) : null,
      s.state === 'closed' ? recordClose(s, sessionId, cause, answer.resultCode) : null,
      deps.record('charging_requests', trail),
    ]);
    // SET NX: if a copy of this request raced us, its answer stands and ours is the replay.
    const won = await deps.redis.set(answerKey, `${fp}|${JSON.stringify(answer)}`, 'EX', ttl + 86_400, 'NX');
    if (!won) return handleOne(tenant, sessionId, phase, req);
    return { answer, replayed: false };
  }
}

export type Sessions = ReturnType<typeof createSessions>;
