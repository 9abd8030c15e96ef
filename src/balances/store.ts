/**
 * The balance store: accounts, balances, reservations and the ledger in Redis. Every change of
 * money or units is one Lua script on one account's hash tag; every change carries a caller-chosen
 * operation id whose first result is kept (failures too). This module plans and calls; the
 * scripts check and write.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { BalanceCode, BalanceStoreError } from './codes.js';
import { accountKeys, ledgersKey, subscriptionKey, tagOf, type AccountKeys } from './keys.js';
import type { Account, BalanceFilters, BalanceUnit, Charge, Subscription } from './model.js';
import { planCharge, type PlannedMove, type SnapshotBalance } from './planner.js';
import { registerScripts, runScript, type Verb } from './scripts.js';
import {
  decodeAccount,
  decodeBalances,
  decodeReservations,
  decodeResult,
  type OpResult,
  type Reservation,
} from './snapshot.js';

export interface BalanceStoreOptions {
  redis: Redis | Cluster;
  /** Prepended to every key (tests use a random one per run). */
  keyPrefix: string;
  /** How long an operation id's first result is kept. Default 7 days. */
  idempotencySeconds?: number;
  /** The clock, passed in so tests can freeze it. */
  now?: () => number;
}

export interface NewAccount {
  tenant: string;
  id: string;
  type: Account['type'];
  currency: string;
  subject: string;
  creditLimitNano?: number;
  sharedGroup?: string | null;
  subscriptions?: Subscription[];
}

export interface NewBalance extends Partial<BalanceFilters> {
  id: string;
  unit: BalanceUnit;
  value: number;
  weight?: number;
  activationMs?: number;
  expiryMs?: number | null;
  /** Put it in the account's shared group (drawn from by every member). */
  shared?: boolean;
}

export interface AccountView {
  account: Account;
  balances: SnapshotBalance[];
  reservations: Reservation[];
}

const MAX_REPLANS = 5;

export function assertAmount(n: number, what: string, allowZero = false): void {
  if (!Number.isSafeInteger(n) || n < 0 || (!allowZero && n === 0)) {
    throw new BalanceStoreError(
      'INVALID_AMOUNT',
      `${what} must be a safe integer > ${allowZero ? '=' : ''} 0, got ${n}`,
    );
  }
}

function fingerprint(verb: string, body: unknown): string {
  return createHash('sha1')
    .update(JSON.stringify([verb, body]))
    .digest('hex');
}

function moveArgs(moves: PlannedMove[]): (string | number)[] {
  const out: (string | number)[] = [moves.length];
  for (const m of moves) {
    assertAmount(m.amount, `amount for ${m.balanceId}`, true);
    out.push(m.scope, m.balanceId, m.amount);
  }
  return out;
}

export function createBalanceStore(opts: BalanceStoreOptions) {
  const redis = opts.redis;
  const ks = { prefix: opts.keyPrefix };
  const retention = opts.idempotencySeconds ?? 7 * 86400;
  const now = opts.now ?? Date.now;
  const tags = new Map<string, string>();
  registerScripts(redis);

  const directoryKey = (tenant: string, id: string) => `${ks.prefix}{d:${tenant}:${id}}`;

  async function keysOf(tenant: string, id: string): Promise<AccountKeys> {
    const k = `${tenant}\u0000${id}`;
    let tag = tags.get(k);
    if (!tag) {
      tag = (await redis.get(directoryKey(tenant, id))) ?? tagOf(tenant, id, null);
      tags.set(k, tag);
    }
    return accountKeys(ks, tag, id);
  }

  function keyList(k: AccountKeys, opId: string): string[] {
    return [k.acct, k.bal, k.gbal, k.res, k.resx, k.ledger, k.op(opId)];
  }

  async function call(
    verb: Verb,
    k: AccountKeys,
    opId: string,
    fp: string,
    accountId: string,
    args: (string | number)[],
  ) {
    return decodeResult(
      await runScript(redis, verb, keyList(k, opId), [opId, fp, now(), retention, accountId, ...args]),
    );
  }

  async function view(tenant: string, id: string): Promise<AccountView | null> {
    const k = await keysOf(tenant, id);
    const [a, b, g, r] = (await runScript(redis, 'snapshot', keyList(k, 'snapshot'), [
      'snapshot',
      '',
      now(),
      retention,
      id,
    ])) as string[][];
    const account = decodeAccount(a!);
    if (!account) return null;
    const balances = [...decodeBalances(b!, 'a'), ...(account.sharedGroup ? decodeBalances(g!, 'g') : [])];
    return { account, balances, reservations: decodeReservations(r!) };
  }

  /** Plans from a fresh snapshot and calls the script; re-plans while the snapshot was stale. */
  async function planned(
    verb: 'debit' | 'reserve',
    tenant: string,
    id: string,
    opId: string,
    fp: string,
    plan: (v: AccountView) => ReturnType<typeof planCharge>,
    args: (final: boolean) => (string | number)[],
  ): Promise<OpResult> {
    const k = await keysOf(tenant, id);
    for (let attempt = 1; ; attempt++) {
      const v = await view(tenant, id);
      const p = v ? plan(v) : null;
      const final = attempt >= MAX_REPLANS;
      const tail = !v ? [0] : p!.ok ? moveArgs(p!.moves) : [0, p!.code];
      const r = await call(verb, k, opId, fp, id, [...args(final), ...tail]);
      if (!r.retry) return r;
    }
  }

  return {
    keySpace: ks,

    async createAccount(input: NewAccount, opId: string): Promise<OpResult> {
      const group = input.sharedGroup ?? null;
      const tag = tagOf(input.tenant, input.id, group);
      await redis.set(directoryKey(input.tenant, input.id), tag, 'NX');
      tags.delete(`${input.tenant}\u0000${input.id}`);
      const k = await keysOf(input.tenant, input.id);
      if (k.tag !== tag) return { code: BalanceCode.ACCOUNT_EXISTS, replayed: false, movements: [] };
      const subs = input.subscriptions ?? [];
      for (const s of subs) {
        const claimed = await redis.set(subscriptionKey(ks, input.tenant, s.type, s.value), input.id, 'NX');
        const owner = claimed
          ? input.id
          : await redis.get(subscriptionKey(ks, input.tenant, s.type, s.value));
        if (owner !== input.id)
          return {
            code: BalanceCode.SUBSCRIPTION_TAKEN,
            replayed: false,
            movements: [],
            detail: `${s.type}:${s.value}`,
          };
      }
      await redis.sadd(ledgersKey(ks), k.ledger);
      const fields = {
        tenant: input.tenant,
        id: input.id,
        type: input.type,
        currency: input.currency,
        status: 'active',
        creditLimitNano: String(input.type === 'postpaid' ? (input.creditLimitNano ?? 0) : 0),
        subject: input.subject,
        sharedGroup: group ?? '',
        subscriptions: JSON.stringify(subs),
      };
      const fp = fingerprint('create', fields);
      return call('account-admin', k, opId, fp, input.id, ['create', ...Object.entries(fields).flat()]);
    },

    async updateAccount(
      tenant: string,
      id: string,
      patch: Partial<Pick<Account, 'status' | 'creditLimitNano' | 'subject'>>,
      opId: string,
    ) {
      if (patch.creditLimitNano !== undefined) assertAmount(patch.creditLimitNano, 'creditLimitNano', true);
      const k = await keysOf(tenant, id);
      const fields = Object.entries(patch).map(([f, v]) => [f, String(v)]);
      return call('account-admin', k, opId, fingerprint('update', patch), id, ['update', ...fields.flat()]);
    },

    async getAccount(tenant: string, id: string): Promise<AccountView | null> {
      return view(tenant, id);
    },

    async findAccountBySubscription(tenant: string, type: string, value: string): Promise<string | null> {
      return redis.get(subscriptionKey(ks, tenant, type, value));
    },

    async addBalance(tenant: string, id: string, b: NewBalance, opId: string): Promise<OpResult> {
      assertAmount(b.value, 'value', true);
      const meta = {
        unit: b.unit,
        weight: b.weight ?? 0,
        activationMs: b.activationMs ?? 0,
        expiryMs: b.expiryMs ?? null,
        destinations: b.destinations ?? [],
        ratingGroups: b.ratingGroups ?? [],
        categories: b.categories ?? [],
      };
      const k = await keysOf(tenant, id);
      const scope = b.shared ? 'g' : 'a';
      return call('balance-admin', k, opId, fingerprint('add', [b.id, meta, b.value, scope]), id, [
        'add',
        scope,
        b.id,
        JSON.stringify(meta),
        b.value,
      ]);
    },

    async removeBalance(
      tenant: string,
      id: string,
      balanceId: string,
      opId: string,
      shared = false,
    ): Promise<OpResult> {
      const k = await keysOf(tenant, id);
      const scope = shared ? 'g' : 'a';
      return call('balance-admin', k, opId, fingerprint('remove', [balanceId, scope]), id, [
        'remove',
        scope,
        balanceId,
      ]);
    },

    /** Adds `amount` to one balance (top-up, refund, positive adjustment). */
    async credit(
      tenant: string,
      id: string,
      req: {
        opId: string;
        balanceId: string;
        amount: number;
        kind?: 'topup' | 'refund' | 'adjust';
        shared?: boolean;
      },
    ): Promise<OpResult> {
      assertAmount(req.amount, 'amount');
      const k = await keysOf(tenant, id);
      const kind = req.kind ?? 'topup';
      const scope = req.shared ? 'g' : 'a';
      const fp = fingerprint('credit', [req.balanceId, req.amount, kind, scope]);
      return call('credit', k, req.opId, fp, id, [kind, 1, scope, req.balanceId, req.amount]);
    },

    /** Takes what a charge costs: matching unit balances first, then money. All or nothing. */
    async debit(
      tenant: string,
      id: string,
      req: { opId: string; charge: Charge; kind?: 'debit' | 'adjust' },
    ): Promise<OpResult> {
      assertAmount(req.charge.units, 'units', true);
      assertAmount(req.charge.amountNano, 'amountNano', true);
      const at = now();
      const fp = fingerprint('debit', [req.charge, req.kind ?? 'debit']);
      return planned(
        'debit',
        tenant,
        id,
        req.opId,
        fp,
        (v) => planCharge(v.account, v.balances, req.charge, at),
        (final) => [req.kind ?? 'debit', final ? 1 : 0],
      );
    },

    /** Holds what a charge would cost, for `ttlSeconds`, under `reservationId`. All or nothing. */
    async reserve(
      tenant: string,
      id: string,
      req: { opId: string; reservationId: string; charge: Charge; ttlSeconds: number },
    ): Promise<OpResult> {
      assertAmount(req.charge.units, 'units', true);
      assertAmount(req.charge.amountNano, 'amountNano', true);
      assertAmount(req.ttlSeconds, 'ttlSeconds');
      const at = now();
      const fp = fingerprint('reserve', [req.reservationId, req.charge, req.ttlSeconds]);
      await redis.sadd(`${ks.prefix}reserving`, `${tenant}\u0000${id}`); // sweep hint, written first
      return planned(
        'reserve',
        tenant,
        id,
        req.opId,
        fp,
        (v) => planCharge(v.account, v.balances, req.charge, at),
        (final) => [req.reservationId, at + req.ttlSeconds * 1000, final ? 1 : 0],
      );
    },

    /** Takes the `used` part of a reservation (within what it holds) and releases the rest. */
    async commit(
      tenant: string,
      id: string,
      req: { opId: string; reservationId: string; used: Charge },
    ): Promise<OpResult> {
      assertAmount(req.used.units, 'units', true);
      assertAmount(req.used.amountNano, 'amountNano', true);
      const k = await keysOf(tenant, id);
      const fp = fingerprint('commit', [req.reservationId, req.used]);
      const v = await view(tenant, id);
      const r = v?.reservations.find((x) => x.id === req.reservationId);
      let moves: PlannedMove[] = [];
      if (v && r) {
        // Plan within the holds: each held amount is a balance of that size.
        const held = r.holds.map((h) => ({
          ...v.balances.find((b) => b.id === h.balanceId && b.scope === h.scope)!,
          value: h.amount,
          held: 0,
        }));
        const p = planCharge(
          { ...v.account, type: 'prepaid' },
          held.filter((b) => b.id),
          req.used,
          now(),
        );
        if (!p.ok)
          return call('commit', k, req.opId, fp, id, [
            req.reservationId,
            0,
            BalanceCode.RESERVATION_EXCEEDED,
          ]);
        moves = p.moves;
      }
      return call('commit', k, req.opId, fp, id, [req.reservationId, ...moveArgs(moves)]);
    },

    async release(
      tenant: string,
      id: string,
      req: { opId: string; reservationId: string },
    ): Promise<OpResult> {
      const k = await keysOf(tenant, id);
      return call('release', k, req.opId, fingerprint('release', [req.reservationId]), id, [
        req.reservationId,
      ]);
    },

    /** Releases the account's reservations whose time has come. */
    async expireReservations(tenant: string, id: string): Promise<OpResult & { expired: string[] }> {
      const k = await keysOf(tenant, id);
      const raw = (await runScript(redis, 'expire', keyList(k, 'expire'), [
        'expire',
        '',
        now(),
        retention,
        id,
      ])) as [number, string];
      const expired = (JSON.parse(raw[1]) as { expired?: string[] | object }).expired;
      return { ...decodeResult(raw), expired: Array.isArray(expired) ? expired : [] };
    },

    /** The sweep: expires due reservations of every account that reserved; returns how many. */
    async sweepExpired(): Promise<number> {
      const setKey = `${ks.prefix}reserving`;
      let count = 0;
      for (const member of await redis.smembers(setKey)) {
        const [tenant, id] = member.split('\u0000') as [string, string];
        count += (await this.expireReservations(tenant, id)).expired.length;
        const k = await keysOf(tenant, id);
        if ((await redis.zcard(k.resx)) === 0) await redis.srem(setKey, member);
      }
      return count;
    },
  };
}

export type BalanceStore = ReturnType<typeof createBalanceStore>;
