/**
 * The balance store: accounts, balances, reservations and the ledger in Redis. Every change of
 * money or units is one Lua function on one hash tag (an account's; CDR batches: many accounts of
 * one tenant, balances/batch.ts); every change carries a caller-chosen operation id whose first
 * result is kept: a charge's failures too, a provisioning write's success only (a refusal changes
 * nothing, so a corrected retry may reuse the id). Accounts and subscriptions: identity.ts. This
 * module plans and calls; the scripts check and write.
 */
import type { Cluster, Redis } from 'ioredis';
import { assertAmount, chargeArgs, type Priced } from './charge-args.js';
import { BalanceCode, BalanceStoreError } from './codes.js';
import { createIdentity, fingerprint } from './identity.js';
import {
  accountDirectoryKey,
  accountKeys,
  dirtyOutboxesKey,
  dueSessionsKey,
  orphanOutboxKey,
  outboxesKey,
  sessionIndexKey,
  subscriptionKey,
  tagOf,
  type AccountKeys,
} from './keys.js';
import type { Account, BalanceFilters, BalanceUnit, Charge } from './model.js';
import { payingFields } from './paying-fields.js';
import { proRata } from './pro-rata.js';
import { runScript, type Verb } from './scripts.js';
import { decodeStep, stepArgs, type StepOutcome, type StepRequest } from './step.js';
import {
  decodeAccount,
  decodeBalances,
  decodeReservations,
  decodeResult,
  type OpResult,
  type Reservation,
  type SnapshotBalance,
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

export type { NewAccount } from './identity.js';

export interface NewBalance extends Partial<BalanceFilters> {
  id: string;
  unit: BalanceUnit;
  value: number;
  weight?: number;
  activationMs?: number;
  expiryMs?: number | null;
  /** Put it in the account's shared group (drawn from by every member). */
  shared?: boolean;
  /** See BalanceMeta; default false and ''. */
  blocker?: boolean;
  ratingSubject?: string;
}

export interface AccountView {
  account: Account;
  balances: SnapshotBalance[];
  reservations: Reservation[];
}

/** A charge is priced again only when bundles changed between two calls: a few rounds at most. */
const MAX_PRICINGS = 10;

/** Options every charging operation accepts. */
export interface ChargeOptions {
  /**
   * What identifies the request under its operation id, when the caller knows better than the
   * charge (an API request whose price may differ on a retry after a tariff reload).
   */
  fingerprint?: string;
  /** Stored with the result and returned on every replay (what the caller's answer needs). */
  note?: string;
}

export function createBalanceStore(opts: BalanceStoreOptions) {
  const redis = opts.redis;
  /** A Cluster keeps the service keys (hints, index, outbox marks) in other slots than an account. */
  const cluster = 'isCluster' in redis && redis.isCluster;
  const ks = { prefix: opts.keyPrefix };
  const retention = opts.idempotencySeconds ?? 7 * 86400;
  const now = opts.now ?? Date.now;

  const directoryKey = (tenant: string, id: string) => accountDirectoryKey(ks, tenant, id);

  /** An account's keys, remembered (its tag never changes: a shared group is fixed at creation). */
  const known = new Map<string, AccountKeys>();

  async function keysOf(tenant: string, id: string): Promise<AccountKeys> {
    const k = `${tenant}\u0000${id}`;
    let keys = known.get(k);
    if (!keys)
      keys = remember(tenant, id, (await redis.get(directoryKey(tenant, id))) ?? tagOf(tenant, id, null));
    return keys;
  }

  function remember(tenant: string, id: string, tag: string): AccountKeys {
    const keys = accountKeys(ks, tag, id);
    if (known.size >= 1_000_000) known.clear();
    known.set(`${tenant}\u0000${id}`, keys);
    return keys;
  }

  /** Many GETs: MGETs of a thousand keys, or (on a Cluster, keys in many slots) pipelined GETs. */
  async function getMany(keys: string[]): Promise<(string | null)[]> {
    if (cluster) return Promise.all(keys.map((k) => redis.get(k)));
    const parts = [];
    for (let i = 0; i < keys.length; i += 1000) parts.push(redis.mget(keys.slice(i, i + 1000)));
    return (await Promise.all(parts)).flat();
  }

  function keyList(k: AccountKeys, opId: string): string[] {
    return [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, k.op(opId)];
  }

  /**
   * Runs a script that may write to the account's outbox, and marks the outbox dirty beside it, so
   * the drain finds what it wrote. The mark may land before the script (on a Cluster it goes to
   * another node); what the drain then misses stays for the next mark or the periodic full pass. A
   * mark without a write costs one empty read.
   */
  async function run(verb: Verb, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const [out] = await Promise.all([
      runScript(redis, verb, keys, argv),
      redis.sadd(dirtyOutboxesKey(ks), keys[5]!),
    ]);
    return out;
  }

  /**
   * A provisioning script that moves balances (balance-admin, credit): its outbox is marked dirty
   * after it wrote, so a refusal changes nothing (a mark lost in a crash waits for the full pass).
   */
  async function provision(
    verb: 'balance-admin' | 'credit' | 'debit',
    k: AccountKeys,
    opId: string,
    fp: string,
    accountId: string,
    args: (string | number)[],
  ): Promise<OpResult> {
    const keys = keyList(k, opId);
    const r = decodeResult(
      await runScript(redis, verb, keys, [opId, fp, now(), retention, accountId, ...args]),
    );
    if (r.code === BalanceCode.OK && !r.replayed) await redis.sadd(dirtyOutboxesKey(ks), k.outbox);
    return r;
  }

  const identity = createIdentity({
    redis,
    ks,
    cluster,
    retentionSeconds: retention,
    now,
    keysOf,
    forget: (tenant, id) => known.delete(`${tenant}\u0000${id}`),
  });

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

  /**
   * Runs a charging script. The script plans who pays (in Lua, atomically); when bundles cover part
   * of the usage it asks for the exact price of the rest, which is computed here and sent back.
   */
  async function charged(
    verb: 'debit',
    tenant: string,
    id: string,
    opId: string,
    fp: string,
    head: (string | number)[],
    c: Charge,
    opts: ChargeOptions,
  ): Promise<OpResult> {
    const k = await keysOf(tenant, id);
    let priced: Priced | undefined;
    for (let round = 0; round < MAX_PRICINGS; round++) {
      const args = [...head, ...chargeArgs(c, priced), opts.note ?? ''];
      const fpr = opts.fingerprint ?? fp;
      // A debit is provisioning: its outbox is marked only once it wrote (a refusal changes nothing).
      const r = await provision(verb, k, opId, fpr, id, args);
      if (r.code !== BalanceCode.NEED_PRICE) return r;
      const covered = r.covered!;
      priced = { covered, moneyNano: proRata(c.amountNano, c.units - covered, c.units) };
    }
    throw new BalanceStoreError('INVALID_REQUEST', `${verb} ${opId}: bundles kept changing while pricing`);
  }

  return {
    keySpace: ks,
    /** The Redis client (for modules that run their own scripts on the same keys: batch.ts). */
    redis,
    /** Whether Redis is a Cluster (keys of different accounts then live in different slots). */
    cluster,
    /** The keys of an account (its hash tag comes from the directory: a shared group's, or its own). */
    keysFor: keysOf,
    /** The keys of an account already looked up by this store, or undefined. */
    knownKeys: (tenant: string, id: string): AccountKeys | undefined => known.get(`${tenant}\u0000${id}`),

    createAccount: identity.createAccount,
    updateAccount: identity.updateAccount,

    /** The account alone (no balances): one plain read, for callers that only need who it is. */
    async accountInfo(tenant: string, id: string): Promise<Account | null> {
      const k = await keysOf(tenant, id);
      const flat = await redis.hgetall(k.acct);
      return decodeAccount(Object.entries(flat).flat());
    },

    async getAccount(tenant: string, id: string): Promise<AccountView | null> {
      return view(tenant, id);
    },

    addSubscription: identity.addSubscription,
    removeSubscription: identity.removeSubscription,

    /**
     * Who holds each of these subscriptions (null: nobody): the account and what rating needs of it.
     * Many at once, without a full account decoded (a CDR worker looks up thousands): GETs in
     * batches (one MGET each, outside a Cluster, whose keys are in many slots), then one HMGET each.
     */
    async subscribersOf(
      tenant: string,
      type: string,
      values: string[],
    ): Promise<(Pick<Account, 'id' | 'subject' | 'currency'> | null)[]> {
      const ids = await getMany(values.map((v) => subscriptionKey(ks, tenant, type, v)));
      const keys = new Map<string, AccountKeys | undefined>();
      for (const id of ids) if (id) keys.set(id, known.get(`${tenant}\u0000${id}`));
      const fresh = [...keys].filter(([, k]) => !k).map(([id]) => id);
      const tags = await getMany(fresh.map((id) => directoryKey(tenant, id)));
      fresh.forEach((id, i) => keys.set(id, remember(tenant, id, tags[i] ?? tagOf(tenant, id, null))));
      return Promise.all(
        ids.map(async (id, i) => {
          if (!id) return null;
          const acct = keys.get(id)!.acct;
          const fields = await redis.hmget(acct, 'id', 'subject', 'currency', 'subscriptionKeys');
          const [found, subject, currency, listed] = fields;
          // A key naming an account that does not list it (a crash mid-claim on a Cluster) finds nobody.
          if (!found || (listed && !listed.includes(`,${type}:${values[i]},`))) return null;
          return { id, subject: subject ?? '', currency: currency! };
        }),
      );
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
        ...payingFields(b.blocker, b.ratingSubject),
      };
      const k = await keysOf(tenant, id);
      const scope = b.shared ? 'g' : 'a';
      return provision('balance-admin', k, opId, fingerprint('add', [b.id, meta, b.value, scope]), id, [
        'add',
        scope,
        b.id,
        JSON.stringify(meta),
        b.value,
      ]);
    },

    /** Changes a balance's weight, validity or filters (not its value: that moves through credit/debit). */
    async updateBalance(
      tenant: string,
      id: string,
      balanceId: string,
      patch: Partial<
        Pick<
          NewBalance,
          | 'weight'
          | 'activationMs'
          | 'expiryMs'
          | 'destinations'
          | 'ratingGroups'
          | 'categories'
          | 'blocker'
          | 'ratingSubject'
        >
      >,
      opId: string,
    ): Promise<OpResult> {
      const b = (await view(tenant, id))?.balances.find((x) => x.id === balanceId);
      // Without the balance the script still runs: a retry of an update finds its first answer.
      const meta = b && {
        unit: b.unit,
        weight: patch.weight ?? b.weight,
        activationMs: patch.activationMs ?? b.activationMs,
        expiryMs: patch.expiryMs === undefined ? b.expiryMs : patch.expiryMs,
        destinations: patch.destinations ?? b.destinations,
        ratingGroups: patch.ratingGroups ?? b.ratingGroups,
        categories: patch.categories ?? b.categories,
        ...payingFields(patch.blocker ?? b.blocker, patch.ratingSubject ?? b.ratingSubject),
      };
      const k = await keysOf(tenant, id);
      return provision('balance-admin', k, opId, fingerprint('update', [balanceId, patch]), id, [
        'update',
        b?.scope ?? 'a',
        balanceId,
        meta ? JSON.stringify(meta) : '',
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
      return provision('balance-admin', k, opId, fingerprint('remove', [balanceId, scope]), id, [
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
      } & ChargeOptions,
    ): Promise<OpResult> {
      assertAmount(req.amount, 'amount');
      const k = await keysOf(tenant, id);
      const kind = req.kind ?? 'topup';
      const scope = req.shared ? 'g' : 'a';
      const fp = req.fingerprint ?? fingerprint('credit', [req.balanceId, req.amount, kind, scope]);
      return provision('credit', k, req.opId, fp, id, [
        kind,
        1,
        scope,
        req.balanceId,
        req.amount,
        req.note ?? '',
      ]);
    },

    /** Takes what a charge costs: matching unit balances first, then money. All or nothing. */
    async debit(
      tenant: string,
      id: string,
      req: { opId: string; charge: Charge; kind?: 'debit' | 'adjust' } & ChargeOptions,
    ): Promise<OpResult> {
      const kind = req.kind ?? 'debit';
      return charged(
        'debit',
        tenant,
        id,
        req.opId,
        fingerprint('debit', [req.charge, kind]),
        [kind],
        req.charge,
        req,
      );
    },

    /** The account a session was opened on (from its id alone), and the session's version and state. */
    async findSession(
      tenant: string,
      sessionId: string,
    ): Promise<{ accountId: string; version: number; info: string; state: string } | null> {
      const accountId = await redis.get(sessionIndexKey(ks, tenant, sessionId));
      if (!accountId) return null;
      const k = await keysOf(tenant, accountId);
      const [info, state, version] = await redis.hmget(k.session(sessionId), 'info', 'st', 'v');
      return info && state ? { accountId, version: Number(version), info, state } : null;
    },

    /** Where a session's account is found by later requests (kept as long as the session). */
    async indexSession(tenant: string, sessionId: string, accountId: string, ttlSeconds: number) {
      await redis.set(sessionIndexKey(ks, tenant, sessionId), accountId, 'EX', ttlSeconds);
    },

    /** The Tcc sweep hint of a session: due at `dueMs`, or none (closed). */
    async hintSession(tenant: string, sessionId: string, dueMs: number | null): Promise<void> {
      const member = `${tenant}\u0000${sessionId}`;
      if (dueMs === null) await redis.zrem(dueSessionsKey(ks), member);
      else await redis.zadd(dueSessionsKey(ks), dueMs, member);
    },

    /** Sessions whose Tcc deadline has passed (by their hints), at most `limit`. */
    async dueSessions(limit: number): Promise<{ tenant: string; sessionId: string }[]> {
      const due = await redis.zrangebyscore(dueSessionsKey(ks), '-inf', now(), 'LIMIT', 0, limit);
      return due.map((m) => {
        const at = m.indexOf('\u0000');
        return { tenant: m.slice(0, at), sessionId: m.slice(at + 1) };
      });
    },

    /**
     * The trail entry of a request that reached no account (an unknown subscriber): the tenant's
     * own outbox, in the shape the step writes (the entry without its answer, and the answer).
     */
    async recordOrphan(tenant: string, trail: string, answer: string): Promise<void> {
      const outbox = orphanOutboxKey(ks, tenant);
      await Promise.all([
        redis.sadd(outboxesKey(ks), outbox),
        redis.xadd(outbox, '*', 'op', 'orphan', 'account', '', 'at', now(), 'trail', trail, 'answer', answer),
        redis.sadd(dirtyOutboxesKey(ks), outbox),
      ]);
    },

    /**
     * Runs one charging step on the account (see step.ts) with its sweep hints, session index and
     * outbox mark: inside the script on a standalone Redis (one command per request), around it on a
     * Cluster (those keys live in other slots).
     */
    async step(tenant: string, id: string, req: StepRequest): Promise<StepOutcome> {
      const k = await keysOf(tenant, id);
      const sid = req.session?.id;
      const keys = [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, sid ? k.session(sid) : k.op(req.stepId)];
      const argv = [req.stepId, req.fingerprint, now(), req.retentionSeconds, id, ...stepArgs(req)];
      const due = req.session?.dueMs;
      if (!cluster) {
        keys.push(
          dirtyOutboxesKey(ks),
          dueSessionsKey(ks),
          sid ? sessionIndexKey(ks, tenant, sid) : k.op(req.stepId),
        );
        argv.push(
          due === undefined ? '' : `${tenant}\u0000${sid}`,
          due ?? '',
          req.session?.index ? req.retentionSeconds : '',
        );
        return decodeStep(await runScript(redis, 'step', keys, argv), req.ops);
      }
      const [, out] = await Promise.all([
        req.session?.index ? this.indexSession(tenant, sid!, id, req.retentionSeconds) : null,
        run('step', keys, argv),
      ]);
      const outcome = decodeStep(out, req.ops);
      if (outcome.status === 'APPLIED' && due !== undefined) await this.hintSession(tenant, sid!, due);
      return outcome;
    },
  };
}

export type BalanceStore = ReturnType<typeof createBalanceStore>;
