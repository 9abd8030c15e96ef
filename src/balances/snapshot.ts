/** Decoding what the scripts return: results, movements and account snapshots. */
import { BalanceCode } from './codes.js';
import type { Account, Balance, BalanceMeta, Movement } from './model.js';

export interface SnapshotBalance extends Balance {
  scope: 'a' | 'g';
  /** The step a `*zero<step>` rating subject consumes in, base units (1 without one). */
  unitIncrement: number;
}

export interface OpResult {
  code: BalanceCode;
  /** True when this is the stored answer of an earlier call with the same operation id. */
  replayed: boolean;
  movements: Movement[];
  detail?: string;
  reservationId?: string;
  expiresMs?: number;
  /** NEED_PRICE only (never recorded): units the bundles cover; the caller prices the rest. */
  covered?: number;
  /** The caller's note stored with the result. */
  note?: string;
}

type RawMove = [string, Movement['unit'], string, string, string, string];

export function decodeResult(raw: unknown): OpResult {
  const [replayed, json] = raw as [number, string];
  const r = JSON.parse(json) as {
    code: BalanceCode;
    movements?: RawMove[] | object;
    detail?: string;
    reservationId?: string;
    expiresMs?: string;
    covered?: string;
    note?: string;
  };
  const moves = Array.isArray(r.movements) ? (r.movements as RawMove[]) : [];
  return {
    code: r.code,
    replayed: replayed === 1,
    movements: moves.map(([balanceId, unit, delta, heldDelta, valueAfter]) => ({
      balanceId,
      unit,
      delta: Number(delta),
      heldDelta: Number(heldDelta),
      valueAfter: Number(valueAfter),
    })),
    ...(r.detail !== undefined ? { detail: r.detail } : {}),
    ...(r.reservationId !== undefined ? { reservationId: r.reservationId } : {}),
    ...(r.expiresMs !== undefined ? { expiresMs: Number(r.expiresMs) } : {}),
    ...(r.covered !== undefined ? { covered: Number(r.covered) } : {}),
    ...(r.note !== undefined ? { note: r.note } : {}),
  };
}

function pairs(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

export function decodeAccount(flat: string[]): Account | null {
  if (flat.length === 0) return null;
  const a = pairs(flat);
  return {
    tenant: a.get('tenant')!,
    id: a.get('id')!,
    type: a.get('type') as Account['type'],
    currency: a.get('currency')!,
    status: a.get('status') as Account['status'],
    creditLimitNano: Number(a.get('creditLimitNano') ?? 0),
    subject: a.get('subject') ?? '',
    sharedGroup: a.get('sharedGroup') || null,
    subscriptions: JSON.parse(a.get('subscriptions') ?? '[]') as Account['subscriptions'],
  };
}

export function decodeBalances(flat: string[], scope: 'a' | 'g'): SnapshotBalance[] {
  const f = pairs(flat);
  const out: SnapshotBalance[] = [];
  for (const [k, v] of f) {
    if (!k.startsWith('m:')) continue;
    const id = k.slice(2);
    const meta = JSON.parse(v) as Partial<BalanceMeta> & Omit<BalanceMeta, 'blocker' | 'ratingSubject'>;
    out.push({
      ...meta,
      blocker: meta.blocker ?? false,
      ratingSubject: meta.ratingSubject ?? '',
      unitIncrement: (meta as { unitIncrement?: number }).unitIncrement ?? 1,
      id,
      scope,
      shared: scope === 'g',
      value: Number(f.get(`v:${id}`) ?? 0),
      held: Number(f.get(`h:${id}`) ?? 0),
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export interface Reservation {
  id: string;
  expiresMs: number;
  holds: { scope: 'a' | 'g'; balanceId: string; amount: number }[];
}

/** A reservation as the scripts store it: 'expiresMs|scope,balance,amount|...' (or JSON, before v2). */
function parseReservation(raw: string): { expiresMs: string; moves: [string, string, string][] } {
  if (raw.startsWith('{')) {
    const r = JSON.parse(raw) as { expiresMs: string; moves: [string, string, string][] | object };
    return {
      expiresMs: r.expiresMs,
      moves: Array.isArray(r.moves) ? (r.moves as [string, string, string][]) : [],
    };
  }
  const [expiresMs, ...holds] = raw.split('|');
  return { expiresMs: expiresMs!, moves: holds.map((h) => h.split(',') as [string, string, string]) };
}

export function decodeReservations(flat: string[]): Reservation[] {
  return [...pairs(flat)].map(([id, raw]) => {
    const { expiresMs, moves } = parseReservation(raw);
    const r = { expiresMs };
    return {
      id,
      expiresMs: Number(r.expiresMs),
      holds: moves.map(([scope, balanceId, amount]) => ({
        scope: scope as 'a' | 'g',
        balanceId,
        amount: Number(amount),
      })),
    };
  });
}

export type { Balance };
