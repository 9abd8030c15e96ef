/**
 * Charging batches of CDRs (lua/cdr-charge.lua, lua/cdr-revert.lua): many accounts per call, each
 * account's CDRs summed when that charges the same as one by one, journaled under the batch so an
 * unstored batch is given back. On a standalone Redis, one call carries up to ACCOUNTS_PER_CALL
 * accounts and writes one outbox entry and one journal per tenant; on a Cluster each account is
 * its own call on its own tag.
 */
import { randomUUID } from 'node:crypto';
import { chargeArgs, type Priced } from './charge-args.js';
import type { Charge } from './model.js';
import {
  cdrJournalKey,
  cdrOutboxKey,
  dirtyOutboxesKey,
  outboxesKey,
  tagJournalKey,
  type AccountKeys,
} from './keys.js';
import { runScript } from './scripts.js';
import type { BalanceStore } from './store.js';

/** An account's CDRs of a batch: their money summed, or each charge in file order. */
export type AccountCharges =
  | { tenant: string; accountId: string; mode: 'sum'; moneyNano: number; units: string[] }
  | {
      tenant: string;
      accountId: string;
      mode: 'each';
      charges: (Charge & { priced?: Priced })[];
    };

export type AccountChargeResult =
  | { code: 'OK'; moneyNano: number }
  /** Summing would not charge the same: send them one by one. */
  | { code: 'EACH' }
  /** Per CDR: the money it took, or the code that refused it. */
  | { code: 'OK'; each: (number | string)[] }
  /** CDRs before `index` (0-based) are charged (`each`); bundles cover part of that one: price the rest. */
  | { code: 'NEED_PRICE'; index: number; covered: number; each: (number | string)[] }
  | { code: 'ACCOUNT_NOT_FOUND' | 'ACCOUNT_INACTIVE' };

const ACCOUNTS_PER_CALL = 500;
/** Arguments per call at most (besides keys): a spread of hundreds of thousands overflows the stack. */
const ARGS_PER_CALL = 40_000;
/** A batch not stored is given back within this (the journal is kept that long). */
const JOURNAL_SECONDS = 30 * 86_400;

interface Placed {
  keys: string[];
  outbox: string;
  journal: string;
}

function place(store: BalanceStore, k: AccountKeys, tenant: string): Placed {
  const ks = store.keySpace;
  const outbox = store.cluster ? k.outbox : cdrOutboxKey(ks, tenant);
  const journal = store.cluster ? tagJournalKey(ks, k.tag) : cdrJournalKey(ks, tenant);
  return { keys: [k.acct, k.bal, k.gbal, k.res, k.resx], outbox, journal };
}

function accountArgs(a: AccountCharges): (string | number)[] {
  if (a.mode === 'sum') return [a.accountId, 'sum', a.moneyNano, a.units.join(',')];
  return [a.accountId, 'each', a.charges.length, ...a.charges.flatMap((c) => chargeArgs(c, c.priced))];
}

function decode(raw: unknown, mode: 'sum' | 'each'): AccountChargeResult {
  const r = raw as [string, ...(number | string)[]];
  if (r[0] === 'OK')
    return mode === 'sum' ? { code: 'OK', moneyNano: Number(r[1]) } : { code: 'OK', each: r.slice(1) };
  if (r[0] === 'NEED_PRICE')
    return { code: 'NEED_PRICE', index: Number(r[1]) - 1, covered: Number(r[2]), each: r.slice(3) };
  return { code: r[0] as 'EACH' | 'ACCOUNT_NOT_FOUND' | 'ACCOUNT_INACTIVE' };
}

/** Calls `verb` on groups of accounts (one per call on a Cluster); marks the outboxes written. */
async function inCalls<T>(
  store: BalanceStore,
  items: { tenant: string; accountId: string }[],
  call: (placed: Placed[], slice: number[]) => Promise<T[]>,
  argsOf: (i: number) => number = () => 1,
): Promise<T[]> {
  // Most accounts' keys are known already: only the others wait for a lookup.
  const placed = items.map((a) => {
    const k = store.knownKeys(a.tenant, a.accountId);
    return k ? place(store, k, a.tenant) : undefined;
  });
  await Promise.all(
    items.flatMap((a, i) =>
      placed[i]
        ? []
        : [store.keysFor(a.tenant, a.accountId).then((k) => (placed[i] = place(store, k, a.tenant)))],
    ),
  );
  // A call's accounts share its outbox and journal: one tenant's (standalone), one tag's (Cluster).
  const groups = new Map<string, number[]>();
  placed.forEach((p, i) => {
    const g = groups.get(p!.journal);
    if (g) g.push(i);
    else groups.set(p!.journal, [i]);
  });
  const size = store.cluster ? 1 : ACCOUNTS_PER_CALL;
  const calls: Promise<T[]>[] = [];
  const order: number[] = [];
  for (const members of groups.values()) {
    let slice: number[] = [];
    let args = 0;
    const flush = () => {
      order.push(...slice);
      calls.push(
        call(
          slice.map((k) => placed[k]!),
          slice,
        ),
      );
      slice = [];
      args = 0;
    };
    for (const k of members) {
      if (slice.length && (slice.length === size || args + argsOf(k) > ARGS_PER_CALL)) flush();
      slice.push(k);
      args += argsOf(k);
    }
    if (slice.length) flush();
  }
  // Every call lands or fails before this returns or throws: a batch given back after a failure
  // must find in its journal everything the other calls took.
  const settled = await Promise.allSettled(calls);
  const outboxes = [...new Set(placed.map((p) => p!.outbox))];
  if (outboxes.length) {
    await Promise.all([
      store.redis.sadd(outboxesKey(store.keySpace), ...outboxes),
      store.redis.sadd(dirtyOutboxesKey(store.keySpace), ...outboxes),
    ]);
  }
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const results = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  const out = new Array<T>(items.length);
  order.forEach((k, i) => (out[k] = results[i]!));
  return out;
}

/**
 * Charges a batch's accounts; a result per account, in order. An account sent one by one carries
 * at most a few thousand charges (its results come back as one Lua list).
 */
export function chargeBatch(
  store: BalanceStore,
  batchId: string,
  items: AccountCharges[],
  nowMs: number,
): Promise<AccountChargeResult[]> {
  return inCalls(
    store,
    items,
    async (placed, slice) => {
      const raw = (await runScript(
        store.redis,
        'cdr-charge',
        [
          ...placed.flatMap((p) => p.keys),
          placed[0]!.outbox,
          placed[0]!.journal,
          `${placed[0]!.journal}:call:${batchId}:${randomUUID()}`,
        ],
        [batchId, JOURNAL_SECONDS, nowMs, slice.length, ...slice.flatMap((k) => accountArgs(items[k]!))],
      )) as unknown[];
      return raw.map((r, i) => decode(r, items[slice[i]!]!.mode));
    },
    (k) => {
      const a = items[k]!;
      return 5 + (a.mode === 'sum' ? 4 : 3 + 8 * a.charges.length);
    },
  );
}

/** Gives back what a batch took from these accounts (once); returns how many gave back. */
export async function revertBatch(
  store: BalanceStore,
  batchId: string,
  accounts: { tenant: string; accountId: string }[],
  nowMs: number,
): Promise<number> {
  const counts = await inCalls(
    store,
    accounts,
    async (placed, slice) =>
      (await runScript(
        store.redis,
        'cdr-revert',
        [...placed.flatMap((p) => p.keys), placed[0]!.outbox, placed[0]!.journal],
        [batchId, slice.length, nowMs, ...slice.map((k) => accounts[k]!.accountId)],
      )) as number[],
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Drops a stored batch's journal entries (what it took stays taken). */
export async function forgetBatch(
  store: BalanceStore,
  batchId: string,
  accounts: { tenant: string; accountId: string }[],
): Promise<void> {
  const byJournal = new Map<string, string[]>();
  const add = (a: { tenant: string; accountId: string }, k: AccountKeys) => {
    const journal = place(store, k, a.tenant).journal;
    const fields = byJournal.get(journal) ?? [];
    fields.push(`${batchId}:${a.accountId}`);
    byJournal.set(journal, fields);
  };
  const unknown = accounts.filter((a) => {
    const k = store.knownKeys(a.tenant, a.accountId);
    if (k) add(a, k);
    return !k;
  });
  for (const a of unknown) add(a, await store.keysFor(a.tenant, a.accountId));
  await Promise.all([...byJournal].map(([key, fields]) => store.redis.hdel(key, ...fields)));
}
