/**
 * Rerating after a tariff change: the stored CDRs of a period (optionally one tenant or account) are
 * priced again on the worker pool; each changed row gets its new price and breakdown, and only the
 * difference moves on the balance — a debit when the price went up, a refund when it went down.
 *
 * Set-based: the period is read once (COPY TO), the workers keep only the changed CDRs, those are
 * written through COPY into a pending table, and one `UPDATE … FROM` applies them at the end
 * (rerate-sql.ts). The pending rows are written before any money moves, so a rerate stopped part way
 * (killed, Redis or PostgreSQL gone) is finished by the next one, with the prices it had computed.
 *
 * Idempotent: the balance operation id carries the CDR id and how many times it was rerated (a
 * counter in its row, bumped when the new price is applied), so finishing a stopped rerate replays
 * a difference already moved, a rerun with the same tariff finds nothing to move, and rerating back
 * and forth moves the money every time.
 * CDRs that bundles paid (money charged below the price) are re-priced but not re-charged: what a
 * bundle covered has no money price to correct (reported as `skippedBundles`).
 */
import type { Pool, PoolClient } from 'pg';
import { BalanceStoreError } from '../balances/codes.js';
import type { BalanceStore } from '../balances/store.js';
import type { RatingPool } from './pool.js';
import type { MoneyMove, RerateChunkResult } from './rerate-worker.js';
import { copyUnescape } from './rerate-worker.js';
import {
  applyPending,
  copyPending,
  dropPending,
  ensurePendingTable,
  lockRerates,
  pendingCount,
  pendingMoves,
  readPeriod,
} from './rerate-sql.js';
import type { ClaimedCdr } from './store.js';

export interface RerateCounters {
  examined: number;
  changed: number;
  unchanged: number;
  skippedBundles: number;
  failed: Record<string, number>;
  /** Changed CDRs of a stopped rerate that this one finished (before its own). */
  recovered: number;
  /**
   * Net money moved by this run, integer nano: positive = more charged, negative = refunded (each
   * move is a safe integer, as every amount the balance store takes; the sum stays exact below 2^53).
   */
  deltaNano: number;
  /** Milliseconds the main thread waited on each step (they overlap the pool's work), and the pool's. */
  timing: RerateTiming;
}

export interface RerateTiming {
  read: number;
  subjects: number;
  pool: number;
  store: number;
  apply: number;
  /** Spent pricing on the pool (its threads' time, beside the main thread's). */
  worker: number;
}

/** Awaits `p`, adding the wait to `c.timing[step]`. */
async function timed<T>(c: RerateCounters, step: keyof RerateTiming, p: Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await p;
  } finally {
    c.timing[step] += performance.now() - t;
  }
}

export interface RerateDeps {
  pool: Pool;
  schema: string;
  rating: RatingPool;
  balances: BalanceStore;
}

export interface RerateOptions {
  from: string;
  to: string;
  tenant?: string;
  accountId?: string;
  /** Stored CDRs priced per task on the pool. Default 8192. */
  batchSize?: number;
  /** How long to wait for another rerate of the schema to end before refusing. Default 10. */
  lockWaitSeconds?: number;
  /** Called after each batch's changes are written and their money moved (progress). */
  onProgress?: (c: RerateCounters) => void;
}

/**
 * Batches priced ahead beyond one per worker: the workers keep pricing while the main thread stores
 * a batch's changes, moves their money and reads the next (a batch is ~1 MB of text).
 */
const EXTRA_AHEAD = 2;

/** Money moves in flight at once (each is one Redis call, two for a refund's first of an account). */
const MOVES_IN_FLIGHT = 128;

export async function rerateCdrs(deps: RerateDeps, range: RerateOptions): Promise<RerateCounters> {
  const c: RerateCounters = {
    examined: 0,
    changed: 0,
    unchanged: 0,
    skippedBundles: 0,
    failed: {},
    recovered: 0,
    deltaNano: 0,
    timing: { read: 0, subjects: 0, pool: 0, store: 0, apply: 0, worker: 0 },
  };
  await ensurePendingTable(deps.pool, deps.schema);
  const client = await deps.pool.connect();
  try {
    await lockRerates(client, deps.schema, range.lockWaitSeconds);
    const money = new MoneyMover(deps.balances, c);
    c.recovered = await finishStopped(deps, client, money);
    await priceThePeriod(deps, range, client, money, c);
    await timed(c, 'apply', applyPending(client, deps.schema));
    return c;
  } finally {
    // Closed rather than reused: it may be in the middle of a COPY, and closing it frees the lock.
    client.release(true);
  }
}

/** A stopped rerate's pending CDRs: their money moved (again: replays where it had), then applied. */
async function finishStopped(deps: RerateDeps, client: PoolClient, money: MoneyMover): Promise<number> {
  if ((await pendingCount(deps.pool, deps.schema)) === 0) return 0;
  const refused = await money.move(await pendingMoves(deps.pool, deps.schema));
  if (refused.length) await dropPending(deps.pool, deps.schema, refused);
  return applyPending(client, deps.schema);
}

/**
 * Reads the period on `client`, prices it on the pool a batch at a time (a few batches ahead), and
 * stores each batch's changes in order.
 */
async function priceThePeriod(
  deps: RerateDeps,
  range: RerateOptions,
  client: PoolClient,
  money: MoneyMover,
  c: RerateCounters,
): Promise<void> {
  const subjects = new Subjects(deps.balances);
  const ahead: Promise<RerateChunkResult>[] = [];
  try {
    const next = () => timed(c, 'pool', ahead.shift()!);
    let t = performance.now();
    for await (const rows of readPeriod(client, deps.schema, range, range.batchSize ?? 8192)) {
      c.timing.read += performance.now() - t;
      const known = await timed(c, 'subjects', subjects.of(rows));
      ahead.push(deps.rating.rerateChunk({ rows, subjects: known }));
      if (ahead.length > deps.rating.threads + EXTRA_AHEAD)
        await storeBatch(deps, await next(), money, range, c);
      t = performance.now();
    }
    while (ahead.length) await storeBatch(deps, await next(), money, range, c);
  } finally {
    await Promise.allSettled(ahead); // no worker result left unobserved when a batch fails
  }
}

/** A batch's changes: into the pending table first, then their money, then refusals forgotten. */
async function storeBatch(
  deps: RerateDeps,
  r: RerateChunkResult,
  money: MoneyMover,
  range: RerateOptions,
  c: RerateCounters,
): Promise<void> {
  const t = performance.now();
  if (r.pending) await copyPending(deps.pool, deps.schema, r.pending);
  const refused = await money.move(r.moves);
  if (refused.length) await dropPending(deps.pool, deps.schema, refused);
  c.timing.store += performance.now() - t;
  c.timing.worker += r.ms;
  c.examined += r.examined;
  c.unchanged += r.unchanged;
  c.changed += r.changed - refused.length;
  c.skippedBundles += r.bundlePaid;
  for (const [code, n] of Object.entries(r.failed)) c.failed[code] = (c.failed[code] ?? 0) + n;
  range.onProgress?.(c);
}

/**
 * The rating subject of each account, looked up once per rerate. A CDR is priced with its account's
 * subject (the file's own subject column is not stored); an account gone since falls back to its id.
 */
class Subjects {
  private readonly known = new Map<string, string>();
  constructor(private readonly balances: BalanceStore) {}

  /** The subjects of the accounts of these rows, keyed by the rows' first two fields as read. */
  async of(rows: string): Promise<Record<string, string>> {
    const keys = new Set<string>();
    for (let at = 0; at < rows.length;) {
      const second = rows.indexOf('\t', rows.indexOf('\t', at) + 1);
      keys.add(rows.slice(at, second));
      at = rows.indexOf('\n', second) + 1 || rows.length;
    }
    await Promise.all(
      [...keys]
        .filter((k) => !this.known.has(k))
        .map(async (k) => {
          const [tenant, id] = k.split('\t').map(copyUnescape) as [string, string];
          this.known.set(k, (await this.balances.accountInfo(tenant, id))?.subject || id);
        }),
    );
    const out: Record<string, string> = {};
    for (const k of keys) out[k] = this.known.get(k)!;
    return out;
  }
}

/** Moves rerate differences on balances, each under its own operation id (idempotent). */
class MoneyMover {
  /** The money balance refunds go to, per account: the one of highest weight. */
  private readonly wallets = new Map<string, Promise<{ id: string; shared: boolean } | undefined>>();

  constructor(
    private readonly balances: BalanceStore,
    private readonly c: RerateCounters,
  ) {}

  /** Moves them all, MOVES_IN_FLIGHT at a time; returns the CDRs whose money was refused. */
  async move(moves: MoneyMove[]): Promise<ClaimedCdr[]> {
    const refused: ClaimedCdr[] = [];
    let next = 0;
    let error: { cause: unknown } | undefined;
    // A lane stops at the first error (Redis gone): nothing goes on moving after the rerate failed.
    const lane = async () => {
      while (next < moves.length && !error)
        await this.one(moves[next++]!, refused).catch((cause: unknown) => void (error ??= { cause }));
    };
    await Promise.all(Array.from({ length: Math.min(MOVES_IN_FLIGHT, moves.length) }, lane));
    if (error) throw error.cause;
    return refused;
  }

  private async one(m: MoneyMove, refused: ClaimedCdr[]): Promise<void> {
    const delta = BigInt(m.deltaNano);
    const code = await this.apply(m, delta);
    if (code === 'OK' || code === 'REPLAYED') {
      if (code === 'OK') this.c.deltaNano += Number(delta); // a safe integer: apply() checked it
      return;
    }
    this.c.failed[code] = (this.c.failed[code] ?? 0) + 1;
    refused.push({ tenant: m.tenant, cdrId: m.cdrId });
  }

  /** OK, REPLAYED (moved before, by a stopped rerate) or why it was refused. */
  private async apply(m: MoneyMove, delta: bigint): Promise<string> {
    const amountNano = Number(delta < 0n ? -delta : delta);
    if (!Number.isSafeInteger(amountNano)) return 'INVALID_AMOUNT';
    // The operation is what identifies it: a replay matches even if the account's wallets changed.
    // Operations are kept per account (of one tenant): another tenant's CDR of this id is another.
    const req = { opId: `rerate:${m.cdrId}:${m.rerated}`, fingerprint: `rerate:${delta}` };
    try {
      let r;
      if (delta > 0n) {
        r = await this.balances.debit(m.tenant, m.accountId, {
          ...req,
          kind: 'adjust',
          charge: { unit: 'generic', units: 0, amountNano },
        });
      } else {
        const wallet = await this.walletOf(m.tenant, m.accountId);
        if (!wallet) return 'BALANCE_NOT_FOUND';
        r = await this.balances.credit(m.tenant, m.accountId, {
          ...req,
          balanceId: wallet.id,
          shared: wallet.shared,
          amount: amountNano,
          kind: 'refund',
        });
      }
      return r.code !== 'OK' ? r.code : r.replayed ? 'REPLAYED' : 'OK';
    } catch (e) {
      if (e instanceof BalanceStoreError) return e.code;
      throw e;
    }
  }

  private walletOf(tenant: string, accountId: string) {
    const key = `${tenant}\u0000${accountId}`;
    let wallet = this.wallets.get(key);
    if (!wallet) {
      wallet = this.balances.getAccount(tenant, accountId).then((v) => {
        const best = v?.balances.filter((b) => b.unit === 'money').sort((a, b) => b.weight - a.weight)[0];
        return best && { id: best.id, shared: best.shared };
      });
      this.wallets.set(key, wallet);
    }
    return wallet;
  }
}
