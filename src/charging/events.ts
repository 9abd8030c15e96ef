/**
 * One-shot charging events (Diameter CCR-Event / IEC): direct debit, refund, balance check and
 * price enquiry. A debit or refund is idempotent by event id: its answer is rebuilt from what the
 * balance script stored with its result (code + note), so a retry, even after a tariff reload,
 * gets the first answer byte for byte and moves no money.
 */
import { createHash } from 'node:crypto';
import type { BalanceStore } from '../balances/store.js';
import type { StepOp } from '../balances/step.js';
import { trailEntry } from './session-plan.js';
import { MAX_JSON_DEPTH, valueDeeperThan } from './json-depth.js';
import {
  baseToUsage,
  nanoToDecimal,
  parseEvent,
  rateEvent,
  type CompiledTariff,
  type RatingResult,
} from '../rating/index.js';
import { proRata } from '../balances/pro-rata.js';
import { parseMatches } from '../rating/balance-match.js';
import { payCharge } from '../rating/affordable.js';
import { grantSnapshot } from './session-grants.js';
import type { Directory, Subscriber } from './directory.js';
import { describeResult } from '../rating/index.js';
import { refusalResult, result, type ResultName } from './result-codes.js';
import {
  destinationOf,
  serviceKind,
  unitsFor,
  usageOf,
  type ServiceInformation,
  type Units,
} from './service-context.js';

export type RequestedAction = 'DIRECT_DEBITING' | 'REFUND_ACCOUNT' | 'CHECK_BALANCE' | 'PRICE_ENQUIRY';

export interface EventRequest {
  requestedAction: RequestedAction;
  eventTime: string;
  serviceContextId: string;
  subscriptionIds: { type: string; data: string }[];
  serviceInformation?: ServiceInformation;
  mscc: { ratingGroup: number; serviceIdentifier?: number; requested?: Units }[];
  retransmission?: boolean;
}

export interface EventAnswer {
  eventId: string;
  requestedAction: RequestedAction;
  resultCode: number;
  resultName: ResultName;
  mscc: { ratingGroup: number; resultCode: number; granted?: Units }[];
  costInformation?: { amount: string; currency: string };
  checkBalanceResult?: 'ENOUGH_CREDIT' | 'NO_CREDIT';
  failedParams?: string[];
}

export interface EventDeps {
  tariff: () => CompiledTariff;
  balances: BalanceStore;
  directory: Directory;
}

export function fingerprintOf(req: EventRequest): string {
  const { retransmission: _r, ...body } = req;
  // JSON.stringify recurses: hash only what the HTTP edge would have let through.
  if (valueDeeperThan(body, MAX_JSON_DEPTH))
    throw new RangeError(`an event nests deeper than ${MAX_JSON_DEPTH}`);
  return createHash('sha1').update(JSON.stringify(body)).digest('hex');
}

function answer(
  eventId: string,
  req: EventRequest,
  name: ResultName,
  extra: Partial<EventAnswer> = {},
  granted?: Units,
): EventAnswer {
  const rg = req.mscc[0]!.ratingGroup;
  return {
    eventId,
    requestedAction: req.requestedAction,
    ...result(name),
    mscc: [{ ratingGroup: rg, ...result(name), ...(granted ? { granted } : {}) }].map(
      ({ resultName: _n, ...m }) => m,
    ),
    ...extra,
  };
}

/**
 * Whether the balances would pay the rated event now, as a debit takes it (no reservation, no
 * guarantee: RFC 4006 6.4): the one paying rule (`payCharge`: eligibility, order, destination
 * matching, blockers, `*zero` steps), from what each balance has free, a postpaid account's credit
 * line last (session-grants.ts `grantSnapshot`, as grants count it).
 */
function enoughCredit(
  view: NonNullable<Awaited<ReturnType<BalanceStore['getAccount']>>>,
  rated: RatingResult,
  kind: { tor: RatingResult['tor']; category: string },
  ratingGroup: number,
  destination: string,
  now: number,
): boolean {
  if (view.account.status !== 'active') return false;
  const snapshot = grantSnapshot(view, kind, ratingGroup, now, undefined, new Map());
  const paid = payCharge(snapshot, kind.tor, parseMatches(destination), BigInt(rated.usage), rated.costNano);
  return paid !== null;
}

export interface EventOutcome {
  answer: EventAnswer;
  /** The answer as stored (debits and refunds): what a replay returns, byte for byte. */
  json: string;
  replayed: boolean;
}

const RETENTION_SECONDS = 7 * 86_400;
/** A debit is priced again when bundles cover part of it, or the subscriber changed under it. */
const MAX_TRIES = 6;

export async function chargeEvent(
  deps: EventDeps,
  tenant: string,
  eventId: string,
  req: EventRequest,
  nowMs: number,
): Promise<EventOutcome> {
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const out = await tryEvent(deps, tenant, eventId, req, nowMs);
    if (out !== 'CHANGED') return out;
    deps.directory.forget(tenant, req.subscriptionIds);
  }
  throw new Error(`event ${eventId}: the subscriber kept changing while charging`);
}

async function tryEvent(
  deps: EventDeps,
  tenant: string,
  eventId: string,
  req: EventRequest,
  nowMs: number,
): Promise<EventOutcome | 'CHANGED'> {
  const fresh = (a: EventAnswer): EventOutcome => ({ answer: a, json: JSON.stringify(a), replayed: false });
  const kind = serviceKind(deps.tariff(), req.serviceContextId);
  if (!kind)
    return orphan(
      deps,
      tenant,
      req,
      answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/serviceContextId'] }),
    );
  const found = await deps.directory.find(tenant, req.subscriptionIds);
  if (!found) return orphan(deps, tenant, req, answer(eventId, req, 'DIAMETER_USER_UNKNOWN'));
  const account = found.account;
  const rg = req.mscc[0]!;
  const usage =
    usageOf(kind, rg.requested) ??
    (kind.tor === 'sms' ? Math.max(1, req.serviceInformation?.sms?.recipients?.length ?? 1) : undefined);
  if (usage === undefined)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/mscc/0/requested'] }));
  const ev = parseEvent({
    tenant,
    category: kind.category,
    subject: account.subject,
    destination: destinationOf(deps.tariff(), tenant, req.serviceInformation),
    answerTime: req.eventTime,
    usage,
    tor: kind.tor,
  });
  if ('ok' in ev)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: [`/${ev.field ?? ''}`] }));
  const rated = rateEvent(deps.tariff(), ev);
  if (!rated.ok)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/serviceInformation'] }));
  const cost = { amount: nanoToDecimal(rated.costNano), currency: account.currency };
  const granted = unitsFor(kind, usage);
  const matched = rated.segments[0]!.destination;
  const payable = rated.segments[0]!.balanceDestinations; // what balance filters match (balance-match.ts)

  switch (req.requestedAction) {
    case 'PRICE_ENQUIRY':
      return fresh(answer(eventId, req, 'DIAMETER_SUCCESS', { costInformation: cost }));
    case 'CHECK_BALANCE': {
      const view = await deps.balances.getAccount(tenant, account.id);
      const enough = view ? enoughCredit(view, rated, kind, rg.ratingGroup, payable, nowMs) : false;
      return fresh(
        answer(eventId, req, 'DIAMETER_SUCCESS', {
          checkBalanceResult: enough ? 'ENOUGH_CREDIT' : 'NO_CREDIT',
        }),
      );
    }
    case 'DIRECT_DEBITING':
    case 'REFUND_ACCOUNT': {
      const refund = req.requestedAction === 'REFUND_ACCOUNT';
      const charge = {
        unit: kind.tor,
        units: refund ? 0 : rated.usage,
        amountNano: Number(rated.costNano),
        destination: payable,
        category: kind.category,
        ratingGroup: rg.ratingGroup,
      };
      const success = answer(eventId, req, 'DIAMETER_SUCCESS', { costInformation: cost }, granted);
      const record = ratedRecord(
        tenant,
        eventId,
        req,
        account.id,
        rated,
        kind.category,
        matched,
        cost.currency,
      );
      const op: StepOp = { verb: refund ? 'refund' : 'debit', charge };
      return settle(deps, tenant, eventId, req, found, op, success, record);
    }
  }
}

/** Debits (or refunds) the event in one step with its answer and records; a refusal is kept too. */
async function settle(
  deps: EventDeps,
  tenant: string,
  eventId: string,
  req: EventRequest,
  found: Subscriber,
  op: StepOp,
  success: EventAnswer,
  rated: string,
): Promise<EventOutcome | 'CHANGED'> {
  const fp = fingerprintOf(req);
  const trail = trailEntry(tenant, eventId, 0, 'event', req, req.eventTime);
  let planned = {
    ops: op.charge!.amountNano === 0 && op.verb === 'refund' ? [] : [op],
    answer: success,
    rated: [rated],
  };
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const json = JSON.stringify(planned.answer);
    const outcome = await deps.balances.step(tenant, found.account.id, {
      stepId: `event:${eventId}`,
      fingerprint: fp,
      answer: json,
      retentionSeconds: RETENTION_SECONDS,
      expectSubject: found.account.subject,
      expectSubscription: found.subscription,
      ops: planned.ops,
      rated: planned.rated,
      trail,
    });
    switch (outcome.status) {
      case 'APPLIED':
        return { answer: planned.answer, json, replayed: false };
      case 'REPLAY':
        return { answer: JSON.parse(outcome.answer) as EventAnswer, json: outcome.answer, replayed: true };
      case 'CONFLICT':
        throw new EventConflict(eventId);
      case 'CHANGED':
        return 'CHANGED';
      case 'STALE':
        throw new Error('an event step has no session');
      case 'DEVIATED': {
        const r = outcome.results[0]!;
        const c = op.charge!;
        if (r.code === 'NEED_PRICE') {
          const priced = {
            covered: r.covered!,
            moneyNano: proRata(c.amountNano, c.units - r.covered!, c.units),
          };
          planned = { ...planned, ops: [{ ...op, priced }] };
        } else if (r.code === 'BALANCE_NOT_FOUND') {
          planned = { ...planned, ops: [] }; // a refund with no money balance to credit: nothing to move
        } else {
          planned = { ops: [], answer: answer(eventId, req, refusalResult(r.code)), rated: [] };
        }
      }
    }
  }
  throw new Error(`event ${eventId}: the balances kept changing while charging`);
}

function ratedRecord(
  tenant: string,
  eventId: string,
  req: EventRequest,
  accountId: string,
  rated: RatingResult,
  category: string,
  destination: string,
  currency: string,
): string {
  return JSON.stringify({
    record_id: `event:${eventId}`,
    tenant,
    account_id: accountId,
    kind: 'event',
    category,
    tor: rated.tor,
    destination,
    started_at: req.eventTime,
    // Event units like every other row of usage (storage/records.ts): whole seconds for voice, as
    // the API's `time` is an integer and the CGRateS facade rounds up to the second.
    usage: baseToUsage(rated.tor, rated.usage),
    cost_nano: Number(rated.costNano) * (req.requestedAction === 'REFUND_ACCOUNT' ? -1 : 1),
    currency,
    result_code: 2001,
    close_cause: req.requestedAction,
    breakdown: describeResult(rated),
  });
}

/** An answer no account can keep (unknown subscriber or service); its trail is kept all the same. */
async function orphan(
  deps: EventDeps,
  tenant: string,
  req: EventRequest,
  a: EventAnswer,
): Promise<EventOutcome> {
  const json = JSON.stringify(a);
  await deps.balances.recordOrphan(
    tenant,
    trailEntry(tenant, a.eventId, 0, 'event', req, req.eventTime),
    json,
  );
  return { answer: a, json, replayed: false };
}

export class EventConflict extends Error {
  constructor(readonly eventId: string) {
    super(`event ${eventId} was already processed with a different body`);
  }
}
