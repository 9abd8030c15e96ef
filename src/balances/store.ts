/**
 * The balance store: accounts, balances, reservations and the ledger in Redis. Every change of
 * money or units is one Lua function on one hash tag (an account's; CDR batches: many accounts of
 * one tenant, balances/batch.ts); every change carries a caller-chosen operation id whose first
 * result is kept: a charge's failures too, a provisioning write's success only (a refusal changes
 * nothing, so a corrected retry may reuse the id). This module composes the parts and reads
 * accounts: shared state in store-context.ts, accounts and subscriptions in identity.ts, balances,
 * credits and debits in provisioning.ts, the charging step in step-call.ts, session bookkeeping in
 * session-index.ts. The parts plan and call; the scripts check and write.
 */
import { createBundles } from './bundles.js';
import { createIdentity } from './identity.js';
import { subscriptionKey, tagOf, type AccountKeys } from './keys.js';
import type { Account } from './model.js';
import { createReplicaWait, type ReplicaWaitOptions } from '../infra/replica-wait.js';
import { createProvisioning } from './provisioning.js';
import { runScript } from './scripts.js';
import { createSessionIndex } from './session-index.js';
import {
  decodeAccount,
  decodeBalances,
  decodeReservations,
  type Reservation,
  type SnapshotBalance,
} from './snapshot.js';
import { createStepCall } from './step-call.js';
import { createStoreContext, type BalanceStoreOptions } from './store-context.js';

export type { BalanceStoreOptions } from './store-context.js';
export type { NewAccount } from './identity.js';
export type { ChargeOptions, NewBalance } from './provisioning.js';

export interface AccountView {
  account: Account;
  balances: SnapshotBalance[];
  reservations: Reservation[];
}

/**
 * Provisioning writes wait for one replica, for up to a second, where the master has one
 * (src/infra/replica-wait.ts; REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS).
 */
export const DEFAULT_REPLICA_WAIT: ReplicaWaitOptions = { replicas: 1, timeoutMs: 1000 };

export function createBalanceStore(opts: BalanceStoreOptions & { replicaWait?: ReplicaWaitOptions }) {
  const ctx = createStoreContext(opts);
  const { redis, ks, cluster, retention, now, keysOf, keyList, getMany, remember, directoryKey } = ctx;

  const identity = createIdentity({
    redis,
    ks,
    cluster,
    retentionSeconds: retention,
    now,
    keysOf,
    forget: ctx.forget,
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

  const sessions = createSessionIndex(ctx);

  return {
    keySpace: ks,
    /** The Redis client (for modules that run their own scripts on the same keys: batch.ts). */
    redis,
    /** Whether Redis is a Cluster (keys of different accounts then live in different slots). */
    cluster,
    /** The keys of an account (its hash tag comes from the directory: a shared group's, or its own). */
    keysFor: keysOf,
    /** The keys of an account already looked up by this store, or undefined. */
    knownKeys: ctx.knownKeys,

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
      for (const id of ids) if (id) keys.set(id, ctx.knownKeys(tenant, id));
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

    ...createProvisioning(
      ctx,
      async (tenant, id) => (await view(tenant, id))?.balances,
      createReplicaWait(redis, opts.replicaWait ?? DEFAULT_REPLICA_WAIT),
    ),
    ...createBundles(ctx),
    ...sessions,
    step: createStepCall(ctx, sessions),
  };
}

export type BalanceStore = ReturnType<typeof createBalanceStore>;
