/**
 * One-shot charging events (Diameter CCR-Event / IEC): direct debit, refund, balance check and
 * price enquiry. A debit or refund is idempotent by event id: its answer is rebuilt from what the
 * balance script stored with its result (code + note), so a retry, even after a tariff reload,
 * gets the first answer byte for byte and moves no money.
 */
import { createHash } from 'node:crypto';
import type { BalanceStore } from '../balances/store.js';
import type { OpResult } from '../balances/snapshot.js';
import {
  nanoToDecimal,
  parseEvent,
  rateEvent,
  type CompiledTariff,
  type RatingResult,
} from '../rating/index.js';
import { proRata } from '../balances/pro-rata.js';
import type { RecordSink } from '../storage/records.js';
import { describeResult } from '../rating/index.js';
import { result, type ResultName } from './result-codes.js';
import {
  findSubscriber,
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
  /** Where the rated record and the request trail go (on their way to PostgreSQL). */
  record: RecordSink;
}

export function fingerprintOf(req: EventRequest): string {
  const { retransmission: _r, ...body } = req;
  return createHash('sha1').update(JSON.stringify(body)).digest('hex');
}

/** What the answer needs beyond the script's result code, stored with that result. */
interface Note {
  cost: string;
  currency: string;
  granted: Units;
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

/** The answer of a debit or refund, from the stored result: the same on every replay. */
function settledAnswer(eventId: string, req: EventRequest, r: OpResult): EventAnswer {
  const note = r.note ? (JSON.parse(r.note) as Note) : undefined;
  if (r.code === 'OK' && note)
    return answer(
      eventId,
      req,
      'DIAMETER_SUCCESS',
      { costInformation: { amount: note.cost, currency: note.currency } },
      note.granted,
    );
  const name: ResultName =
    r.code === 'INSUFFICIENT'
      ? 'DIAMETER_CREDIT_LIMIT_REACHED'
      : r.code === 'ACCOUNT_INACTIVE'
        ? 'DIAMETER_END_USER_SERVICE_DENIED'
        : r.code === 'ACCOUNT_NOT_FOUND'
          ? 'DIAMETER_USER_UNKNOWN'
          : 'DIAMETER_UNABLE_TO_COMPLY';
  return answer(eventId, req, name);
}

/** The account of the first known subscription id; with its balances only when the action needs them. */
async function findAccount(deps: EventDeps, tenant: string, req: EventRequest) {
  const id = await findSubscriber(
    (t, type, v) => deps.balances.findAccountBySubscription(t, type, v),
    tenant,
    req.subscriptionIds,
  );
  if (!id) return null;
  if (req.requestedAction === 'CHECK_BALANCE' || req.requestedAction === 'REFUND_ACCOUNT') {
    return deps.balances.getAccount(tenant, id);
  }
  const account = await deps.balances.accountInfo(tenant, id);
  return account && { account, balances: [], reservations: [] };
}

/** Whether the balances would cover the rated event now (no reservation, no guarantee: RFC 4006 6.4). */
function enoughCredit(
  view: NonNullable<Awaited<ReturnType<BalanceStore['getAccount']>>>,
  rated: RatingResult,
  unit: string,
  destination: string,
  now: number,
): boolean {
  const usable = view.balances.filter(
    (b) =>
      b.activationMs <= now &&
      (b.expiryMs === null || b.expiryMs > now) &&
      (b.destinations.length === 0 || b.destinations.includes(destination)),
  );
  const units = rated.usage;
  const covered = Math.min(
    units,
    usable.filter((b) => b.unit === unit).reduce((s, b) => s + Math.max(0, b.value - b.held), 0),
  );
  const money = proRata(Number(rated.costNano), units - covered, units);
  const floor = view.account.type === 'postpaid' ? view.account.creditLimitNano : 0;
  return usable.filter((b) => b.unit === 'money').reduce((s, b) => s + b.value - b.held, 0) + floor >= money;
}

export async function chargeEvent(
  deps: EventDeps,
  tenant: string,
  eventId: string,
  req: EventRequest,
  nowMs: number,
): Promise<{ answer: EventAnswer; replayed: boolean }> {
  const fresh = (a: EventAnswer) => ({ answer: a, replayed: false });
  const kind = serviceKind(req.serviceContextId);
  if (!kind)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/serviceContextId'] }));
  const view = await findAccount(deps, tenant, req);
  if (!view) return fresh(answer(eventId, req, 'DIAMETER_USER_UNKNOWN'));
  const rg = req.mscc[0]!;
  const usage =
    usageOf(kind, rg.requested) ??
    (kind.tor === 'sms' ? Math.max(1, req.serviceInformation?.sms?.recipients?.length ?? 1) : undefined);
  if (usage === undefined)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/mscc/0/requested'] }));
  const destination = destinationOf(req.serviceInformation);
  const ev = parseEvent({
    tenant,
    category: kind.category,
    subject: view.account.subject,
    destination,
    answerTime: req.eventTime,
    usage,
    tor: kind.tor,
  });
  if ('ok' in ev)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: [`/${ev.field ?? ''}`] }));
  const rated = rateEvent(deps.tariff(), ev);
  if (!rated.ok)
    return fresh(answer(eventId, req, 'DIAMETER_RATING_FAILED', { failedParams: ['/serviceInformation'] }));
  const cost = { amount: nanoToDecimal(rated.costNano), currency: view.account.currency };
  const granted = unitsFor(kind, usage);
  const matched = rated.segments[0]!.destination;

  switch (req.requestedAction) {
    case 'PRICE_ENQUIRY':
      return fresh(answer(eventId, req, 'DIAMETER_SUCCESS', { costInformation: cost }));
    case 'CHECK_BALANCE':
      return fresh(
        answer(eventId, req, 'DIAMETER_SUCCESS', {
          checkBalanceResult: enoughCredit(view, rated, kind.tor, matched, nowMs)
            ? 'ENOUGH_CREDIT'
            : 'NO_CREDIT',
        }),
      );
    case 'DIRECT_DEBITING': {
      const r = await deps.balances.debit(tenant, view.account.id, {
        opId: `event:${eventId}`,
        fingerprint: fingerprintOf(req),
        note: JSON.stringify({ cost: cost.amount, currency: cost.currency, granted } satisfies Note),
        charge: {
          unit: kind.tor,
          units: rated.usage,
          amountNano: Number(rated.costNano),
          destination: matched,
          category: kind.category,
          ratingGroup: rg.ratingGroup,
        },
      });
      if (r.code === 'CONFLICT') throw new EventConflict(eventId);
      return keep(
        deps,
        tenant,
        eventId,
        req,
        { answer: settledAnswer(eventId, req, r), replayed: r.replayed },
        view.account.id,
        rated,
        kind.category,
        matched,
      );
    }
    case 'REFUND_ACCOUNT': {
      const wallet = view.balances.filter((b) => b.unit === 'money').sort((a, b) => b.weight - a.weight)[0];
      if (!wallet || rated.costNano === 0n)
        return fresh(answer(eventId, req, 'DIAMETER_SUCCESS', { costInformation: cost }, granted));
      const r = await deps.balances.credit(tenant, view.account.id, {
        opId: `event:${eventId}`,
        fingerprint: fingerprintOf(req),
        note: JSON.stringify({ cost: cost.amount, currency: cost.currency, granted } satisfies Note),
        balanceId: wallet.id,
        shared: wallet.shared,
        amount: Number(rated.costNano),
        kind: 'refund',
      });
      if (r.code === 'CONFLICT') throw new EventConflict(eventId);
      return keep(
        deps,
        tenant,
        eventId,
        req,
        { answer: settledAnswer(eventId, req, r), replayed: r.replayed },
        view.account.id,
        rated,
        kind.category,
        matched,
      );
    }
  }
}

/**
 * Writes the event's rated record (when it was charged) and its trail entry. Replays write them
 * again: they are stored once, by id, so a crash between the debit and this write loses nothing.
 */
async function keep(
  deps: EventDeps,
  tenant: string,
  eventId: string,
  req: EventRequest,
  out: { answer: EventAnswer; replayed: boolean },
  accountId: string,
  rated: RatingResult,
  category: string,
  destination: string,
): Promise<{ answer: EventAnswer; replayed: boolean }> {
  const a = out.answer;
  if (a.resultCode === 2001) {
    await deps.record('rated_records', {
      record_id: `event:${eventId}`,
      tenant,
      account_id: accountId,
      kind: 'event',
      category,
      tor: rated.tor,
      destination,
      started_at: req.eventTime,
      usage: rated.usage,
      cost_nano: Number(rated.costNano) * (req.requestedAction === 'REFUND_ACCOUNT' ? -1 : 1),
      currency: a.costInformation?.currency ?? '',
      result_code: a.resultCode,
      close_cause: req.requestedAction,
      breakdown: describeResult(rated),
    });
  }
  await deps.record('charging_requests', {
    tenant,
    session_id: eventId,
    request_number: 0,
    phase: 'event',
    request: req,
    answer: a,
    at: req.eventTime,
  });
  return out;
}

export class EventConflict extends Error {
  constructor(readonly eventId: string) {
    super(`event ${eventId} was already processed with a different body`);
  }
}
