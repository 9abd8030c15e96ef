/**
 * Who an account is and the subscriptions (msisdn, imsi ...) that find it: creating an account,
 * giving it a subscription, taking one back. A refused request changes nothing; a subscription's
 * directory key names an account only while that account lists it.
 *
 * On one Redis each request is one script (account-admin, mode 'whole') that checks, then writes,
 * the account, its directory key and the subscriptions' directory keys together.
 *
 * On a Cluster a subscription's directory key lives in another slot than the account, so no script
 * can write both. There the invariant is "an account lists a subscription only while its directory
 * key names the account", kept by a claim version on the directory key's slot and fences on the
 * account's slot:
 *  1. claim (subscription-claim): the key is set to the account with a new version v, if it is
 *     free or already the account's;
 *  2. list (account-admin, mode 'account'): the account lists it unless a fence >= v stands there;
 *  3. free (after a refusal or a replay, an unsubscribe, or another account finding the claim
 *     unlisted): first fence the subscription on the owner at the version read (refused if the
 *     owner lists it), then release or re-claim the key only if it is still the owner's at that
 *     version. A listing of an older claim that comes later meets the fence; a newer claim is kept.
 * A crash between two steps leaves at worst a key naming an account that does not list it:
 * readers check the listing (store.subscribersOf, the charging directory), the account's own retry
 * claims it again, and another account's claim frees it through step 3.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { BalanceCode } from './codes.js';
import {
  accountDirectoryKey,
  accountKeys,
  outboxesKey,
  subscriptionKey,
  subscriptionVersionKey,
  tagOf,
  type AccountKeys,
  type KeySpace,
} from './keys.js';
import type { Account, Subscription } from './model.js';
import { runScript } from './scripts.js';
import { decodeResult, type OpResult } from './snapshot.js';

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

export interface IdentityContext {
  redis: Redis | Cluster;
  ks: KeySpace;
  cluster: boolean;
  retentionSeconds: number;
  now: () => number;
  keysOf: (tenant: string, id: string) => Promise<AccountKeys>;
  /** Forgets what the store remembers of an account's keys (its tag was just written). */
  forget: (tenant: string, id: string) => void;
}

/** A subscription in a script call: its `type:value`, and x (whole: the owner seen; Cluster: the claim version). */
interface Claim {
  sub: Subscription;
  x: string | number;
  dir: string;
  owner: string;
}

export function fingerprint(verb: string, body: unknown): string {
  return createHash('sha1')
    .update(JSON.stringify([verb, body]))
    .digest('hex');
}

export const refused = (code: BalanceCode, detail?: string): OpResult => ({
  code,
  replayed: false,
  movements: [],
  ...(detail ? { detail } : {}),
});

const subKey = (s: Subscription) => `${s.type}:${s.value}`;

function unique(subs: Subscription[]): Subscription[] {
  const seen = new Map(subs.map((s) => [subKey(s), s]));
  return [...seen.values()];
}

export function createIdentity(ctx: IdentityContext) {
  const { redis, ks } = ctx;
  const whole = !ctx.cluster;

  /** account-admin on the account's slot; in mode 'whole' with the keys of other slots too. */
  async function admin(
    k: AccountKeys,
    tenant: string,
    id: string,
    op: { opId: string; fp: string; action: string; tag?: string },
    claims: Claim[],
    fields: string[] = [],
  ): Promise<OpResult> {
    const opKey = k.op(op.opId);
    const keys = [k.acct, k.bal, k.gbal, k.res, k.resx, k.outbox, opKey];
    if (whole) keys.push(accountDirectoryKey(ks, tenant, id), outboxesKey(ks), k.fence);
    else keys.push(opKey, opKey, k.fence);
    if (whole) for (const c of claims) keys.push(c.dir, c.owner);
    const argv = [
      op.opId,
      op.fp,
      ctx.now(),
      ctx.retentionSeconds,
      id,
      op.action,
      whole ? 'whole' : 'account',
    ];
    argv.push(op.tag ?? '', claims.length, ...claims.flatMap((c) => [subKey(c.sub), c.x]), ...fields);
    return decodeResult(await runScript(redis, 'account-admin', keys, argv));
  }

  /** One Redis: each subscription with the owner its key names now (the script checks it still does). */
  async function seen(tenant: string, id: string, subs: Subscription[]): Promise<Claim[]> {
    return Promise.all(
      subs.map(async (sub) => {
        const dir = subscriptionKey(ks, tenant, sub.type, sub.value);
        const owner = await redis.get(dir);
        if (!owner || owner === id) return { sub, x: '', dir, owner: dir };
        return { sub, x: owner, dir, owner: (await ctx.keysOf(tenant, owner)).acct };
      }),
    );
  }

  async function claimCall(tenant: string, id: string, sub: Subscription, argv: (string | number)[]) {
    const keys = [
      subscriptionKey(ks, tenant, sub.type, sub.value),
      subscriptionVersionKey(ks, tenant, sub.type, sub.value),
    ];
    const out = (await runScript(redis, 'subscription-claim', keys, [
      'claim',
      '',
      ctx.now(),
      0,
      id,
      ...argv,
    ])) as [number, string];
    return JSON.parse(out[1]) as { code: string; owner?: string; version: number };
  }

  /** Step 3's first half: fences `sub` on an account at `version`; false when the account lists it. */
  async function fenceOn(k: AccountKeys, tenant: string, id: string, sub: Subscription, version: number) {
    const dir = subscriptionKey(ks, tenant, sub.type, sub.value);
    const r = await admin(k, tenant, id, { opId: 'fence', fp: '', action: 'fence' }, [
      { sub, x: version, dir, owner: dir },
    ]);
    return r.code === BalanceCode.OK;
  }

  /** Cluster step 1: the claim, freeing a claim of another account that does not list it. */
  async function claim(tenant: string, id: string, sub: Subscription): Promise<Claim | null> {
    const dir = subscriptionKey(ks, tenant, sub.type, sub.value);
    let r = await claimCall(tenant, id, sub, ['claim', '', '']);
    if (r.code !== 'OK') {
      const owner = r.owner!;
      if (!(await fenceOn(await ctx.keysOf(tenant, owner), tenant, owner, sub, r.version))) return null;
      r = await claimCall(tenant, id, sub, ['claim', owner, r.version]);
    }
    return r.code === 'OK' ? { sub, x: r.version, dir, owner: dir } : null;
  }

  /** Cluster step 3 for the account's own claims after a request that did not list them. */
  async function letGo(k: AccountKeys, tenant: string, id: string, claims: Claim[], fenced = false) {
    for (const c of claims) {
      if (fenced || (await fenceOn(k, tenant, id, c.sub, Number(c.x))))
        await claimCall(tenant, id, c.sub, ['release', '', c.x]);
    }
  }

  /** Cluster: claims every subscription, or none (what it claimed is let go) and says which is taken. */
  async function claimAll(k: AccountKeys, tenant: string, id: string, subs: Subscription[]) {
    const claims: Claim[] = [];
    for (const sub of subs) {
      const c = await claim(tenant, id, sub);
      if (!c) {
        await letGo(k, tenant, id, claims);
        return { claims, taken: subKey(sub) };
      }
      claims.push(c);
    }
    return { claims };
  }

  /** Cluster: claim, then the account script, then let go unless it listed them afresh. */
  async function claimed(
    k: AccountKeys,
    tenant: string,
    id: string,
    subs: Subscription[],
    run: (claims: Claim[]) => Promise<OpResult>,
  ): Promise<OpResult> {
    const { claims, taken } = await claimAll(k, tenant, id, subs);
    if (taken) return refused(BalanceCode.SUBSCRIPTION_TAKEN, taken);
    const r = await run(claims);
    if (r.code !== BalanceCode.OK || r.replayed) await letGo(k, tenant, id, claims);
    return r;
  }

  return {
    async createAccount(input: NewAccount, opId: string): Promise<OpResult> {
      const { tenant, id } = input;
      const tag = tagOf(tenant, id, input.sharedGroup ?? null);
      const k = accountKeys(ks, tag, id);
      const subs = unique(input.subscriptions ?? []);
      const fields = {
        tenant,
        id,
        type: input.type,
        currency: input.currency,
        status: 'active',
        creditLimitNano: String(input.type === 'postpaid' ? (input.creditLimitNano ?? 0) : 0),
        subject: input.subject,
        sharedGroup: input.sharedGroup ?? '',
      };
      const op = { opId, fp: fingerprint('create', { ...fields, subs }), action: 'create', tag };
      const flat = Object.entries(fields).flat();
      ctx.forget(tenant, id);
      if (whole) return admin(k, tenant, id, op, await seen(tenant, id, subs), flat);
      // A Cluster needs the tag first (the account's keys are found by it); a refused create may
      // leave it, which only matters to a later create of the same id in another shared group.
      const dirKey = accountDirectoryKey(ks, tenant, id);
      await redis.set(dirKey, tag, 'NX');
      if ((await redis.get(dirKey)) !== tag)
        return refused(BalanceCode.ACCOUNT_EXISTS, 'in another shared group');
      const r = await claimed(k, tenant, id, subs, (claims) => admin(k, tenant, id, op, claims, flat));
      if (r.code === BalanceCode.OK) await redis.sadd(outboxesKey(ks), k.outbox);
      return r;
    },

    async updateAccount(
      tenant: string,
      id: string,
      patch: Partial<Pick<Account, 'status' | 'creditLimitNano' | 'subject'>>,
      opId: string,
    ): Promise<OpResult> {
      const k = await ctx.keysOf(tenant, id);
      const fields = Object.entries(patch).flatMap(([f, v]) => [f, String(v)]);
      const op = { opId, fp: fingerprint('update', patch), action: 'update' };
      return admin(k, tenant, id, op, [], fields);
    },

    /** Gives the account one more subscription, unless another account has it. */
    async addSubscription(tenant: string, id: string, sub: Subscription, opId: string): Promise<OpResult> {
      const k = await ctx.keysOf(tenant, id);
      const op = { opId, fp: fingerprint('subscribe', sub), action: 'subscribe' };
      if (whole) return admin(k, tenant, id, op, await seen(tenant, id, [sub]));
      if (!(await redis.exists(k.acct))) return refused(BalanceCode.ACCOUNT_NOT_FOUND);
      return claimed(k, tenant, id, [sub], (claims) => admin(k, tenant, id, op, claims));
    },

    /** Takes a subscription off an account and frees it for another. */
    async removeSubscription(tenant: string, id: string, sub: Subscription, opId: string): Promise<OpResult> {
      const k = await ctx.keysOf(tenant, id);
      const op = { opId, fp: fingerprint('unsubscribe', sub), action: 'unsubscribe' };
      const dir = subscriptionKey(ks, tenant, sub.type, sub.value);
      if (whole) return admin(k, tenant, id, op, [{ sub, x: '', dir, owner: dir }]);
      const version = Number((await redis.get(subscriptionVersionKey(ks, tenant, sub.type, sub.value))) ?? 0);
      const c = { sub, x: version, dir, owner: dir };
      const r = await admin(k, tenant, id, op, [c]);
      // A fresh unsubscribe fenced at `version` itself; a replay (a retry after a crash) fences first.
      if (r.code === BalanceCode.OK) await letGo(k, tenant, id, [c], !r.replayed);
      return r;
    },
  };
}
