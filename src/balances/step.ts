/**
 * A charging step (lua/step.lua): the balance operations of one charging request, applied all or
 * nothing together with the session state, the answer and the records bound for PostgreSQL. The
 * caller plans and says what it expects each operation to move; when the balances disagree the step
 * writes nothing and reports how each operation would go, and the caller plans again.
 */
import { chargeArgs, type Priced } from './charge-args.js';
import { BalanceCode, StepStatus } from './codes.js';
import type { Charge } from './model.js';

export type StepVerb = 'settle' | 'debit' | 'reserve' | 'release' | 'refund';

export interface StepOp {
  verb: StepVerb;
  reservationId?: string;
  /** reserve: when the reservation expires (epoch ms). */
  expiresMs?: number;
  /** What is charged (refund: `amountNano` is credited). */
  charge?: Charge;
  /** A partly covered charge: the units bundles cover and the exact money for the rest. */
  priced?: Priced;
  /**
   * What the operation must take for the step to apply: money (nano; negative = credited) and units.
   * Absent = any. `probe` = never apply, only report (the caller cannot predict the outcome).
   */
  expect?: { moneyNano: number; units: number } | 'probe';
}

export interface StepRequest {
  /** Names the step in the ledger (op id) and keys the answer of a step without a session. */
  stepId: string;
  fingerprint: string;
  /** The answer, stored with the step and returned on every replay. */
  answer: string;
  /** How long the answer (or the session) is kept. */
  retentionSeconds: number;
  session?: {
    id: string;
    expectedVersion: number;
    /** The answer's field in the session hash (`a:<request number>`). */
    requestKey: string;
    /** What never changes (written when the session opens; absent = unchanged). */
    info?: string;
    /** The session after the step ('' = an initiate that opens none: only its answer is kept). */
    state: string;
    /** The Tcc sweep hint: the deadline, or null once the session is closed (the hint goes). */
    dueMs?: number | null;
    /** Write or renew the session's index (sessionId -> account), kept as long as the session. */
    index?: boolean;
  };
  /** The caller's view of the account, checked by the step (a stale cache is refused, not used). */
  expectSubject?: string;
  expectSubscription?: string;
  ops: StepOp[];
  /** Rated records (rows as JSON, see storage/records.ts) and the trail entry, without its answer. */
  rated?: string[];
  trail?: string;
}

export interface StepOpResult {
  code: string;
  moneyNano: number;
  units: number;
  /** NEED_PRICE: the units bundles cover. */
  covered?: number;
  /** reserve: what the reservation holds, per unit. */
  holds?: { unit: string; amount: number }[];
  /**
   * A refused reserve (INSUFFICIENT): what each balance ('scope:id') had free at that point of the
   * step, after its earlier operations (a settle gives back the reservation and takes the usage).
   */
  free?: Map<string, number>;
}

export type StepOutcome =
  | { status: 'APPLIED' | 'DEVIATED'; version: number; results: StepOpResult[] }
  | { status: 'REPLAY'; answer: string }
  | { status: 'CONFLICT' }
  /** The request number is not newer than `newestDropped`, an answer the session no longer keeps. */
  | { status: 'TOO_OLD'; newestDropped: number }
  | { status: 'STALE'; version: number; info: string; state: string }
  | { status: 'CHANGED'; account: string[] };

function checkAmount(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be a safe integer, got ${n}`);
  return n;
}

function opArgs(op: StepOp): (string | number)[] {
  const expect =
    op.expect === 'probe'
      ? ['?', '?']
      : op.expect
        ? [checkAmount(op.expect.moneyNano, 'expected money'), checkAmount(op.expect.units, 'expected units')]
        : ['', ''];
  return [
    op.verb,
    op.reservationId ?? '',
    op.expiresMs ?? '',
    ...chargeArgs(op.charge, op.priced),
    ...expect,
  ];
}

/** ARGV of the step after the common five (see step.lua). */
export function stepArgs(s: StepRequest): (string | number)[] {
  return [
    s.session ? s.session.expectedVersion : '',
    s.session ? s.session.requestKey : '',
    s.session?.info ?? '',
    s.session?.state ?? '',
    s.answer,
    s.expectSubject ?? '',
    s.expectSubscription ?? '',
    s.rated?.length ? `[${s.rated.join(',')}]` : '',
    s.trail ?? '',
    s.ops.length,
    ...s.ops.flatMap(opArgs),
  ];
}

function decodeHolds(detail: string): { unit: string; amount: number }[] {
  if (detail === '') return [];
  return detail.split(',').map((h) => {
    const at = h.indexOf(':');
    return { unit: h.slice(0, at), amount: Number(h.slice(at + 1)) };
  });
}

function decodeFree(detail: string): Map<string, number> {
  const free = new Map<string, number>();
  for (const b of detail === '' ? [] : detail.split('|')) {
    const [scope, id, amount] = b.split(',') as [string, string, string];
    free.set(`${scope}:${id}`, Number(amount));
  }
  return free;
}

/** What a reserve's detail says: the holds of a reservation, or what a refused one found free. */
function reserveDetail(code: string, detail: string): Partial<StepOpResult> {
  if (code === BalanceCode.NEED_PRICE) return {};
  if (code === BalanceCode.INSUFFICIENT) return { free: decodeFree(detail) };
  return { holds: decodeHolds(detail) };
}

export function decodeStep(raw: unknown, ops: StepOp[]): StepOutcome {
  const r = raw as [string, ...unknown[]];
  switch (r[0]) {
    case StepStatus.REPLAY:
      return { status: 'REPLAY', answer: r[1] as string };
    case StepStatus.CONFLICT:
      return { status: 'CONFLICT' };
    case StepStatus.TOO_OLD:
      return { status: 'TOO_OLD', newestDropped: Number(r[1]) };
    case StepStatus.STALE:
      return { status: 'STALE', version: Number(r[1]), info: r[2] as string, state: r[3] as string };
    case StepStatus.CHANGED:
      return { status: 'CHANGED', account: r[1] as string[] };
    default: {
      const results = (r[2] as [string, string, string, string][]).map(
        ([code, money, units, detail], i): StepOpResult => ({
          code,
          moneyNano: Number(money),
          units: Number(units),
          ...(code === BalanceCode.NEED_PRICE ? { covered: Number(detail) } : {}),
          ...(ops[i]!.verb === 'reserve' ? reserveDetail(code, detail) : {}),
        }),
      );
      return { status: r[0] as 'APPLIED' | 'DEVIATED', version: Number(r[1]), results };
    }
  }
}
