/**
 * Plan bundles in Redis: the grant of a new period to one bundle balance (lua/bundle-renew.lua),
 * reset or rolled over atomically, replayed by its operation id like every script. Billing
 * (src/billing/plans/) decides what to grant and when; this module only encodes the call.
 */
import { assertAmount } from './charge-args.js';
import { BalanceStoreError } from './codes.js';
import { fingerprint } from './identity.js';
import { dirtyOutboxesKey } from './keys.js';
import type { BalanceFilters, BalanceUnit } from './model.js';
import { payingFields } from './paying-fields.js';
import { runScript } from './scripts.js';
import { decodeResult, type OpResult } from './snapshot.js';
import type { StoreContext } from './store-context.js';

/** Balance ids of plan bundles (the engine's id pattern allows `._:@+-`). */
export function bundleBalanceId(seq: number, suffix: string): string {
  return `plan.${seq}.${suffix}`;
}

export function rolloverBalanceId(seq: number, suffix: string, k: number): string {
  return `${bundleBalanceId(seq, suffix)}.ro${k}`;
}

export interface BundleGrant extends Partial<BalanceFilters> {
  /** The assignment's number within the account and the plan's bundle id. */
  seq: number;
  suffix: string;
  unit: Exclude<BalanceUnit, 'money'>;
  /** Units granted for the period (base units: bytes, ns, messages). */
  allowance: number;
  weight: number;
  /** The period's start (the renewal instant) and end (the main balance's new expiry), epoch ms. */
  periodStartMs: number;
  periodEndMs: number;
  renewal: 'reset' | 'rollover';
  /** Rollover only: the most moved into the sibling, and when the sibling expires. */
  rolloverCap?: number;
  rolloverExpiryMs?: number;
  /** Which renewal this is (1, 2, ...): names the sibling `.ro{k}`. */
  k: number;
}

export interface RenewResult extends OpResult {
  rolled: number;
  dropped: number;
  /** The main balance already ran to this period end (nothing moved). */
  alreadyRenewed: boolean;
}

function meta(g: BundleGrant, weight: number, expiryMs: number, activationMs: number): string {
  return JSON.stringify({
    unit: g.unit,
    weight,
    activationMs,
    expiryMs,
    destinations: g.destinations ?? [],
    ratingGroups: g.ratingGroups ?? [],
    categories: g.categories ?? [],
    ...payingFields(),
  });
}

export function createBundles(ctx: StoreContext) {
  const { redis, ks, retention, keysOf, keyList } = ctx;

  return {
    /**
     * Grants a bundle its period (creating the balance on the first grant). `opId` is the caller's
     * (`renew:{assignmentId}:{periodStartIso}:{suffix}`); a replay returns the first answer.
     */
    async renewBundle(tenant: string, accountId: string, g: BundleGrant, opId: string): Promise<RenewResult> {
      assertAmount(g.allowance, 'allowance', true);
      const cap = g.renewal === 'rollover' ? (g.rolloverCap ?? 0) : 0;
      assertAmount(cap, 'rolloverCap', true);
      if (!(g.periodEndMs > g.periodStartMs))
        throw new BalanceStoreError('INVALID_REQUEST', 'a bundle period must end after it starts');
      const mainId = bundleBalanceId(g.seq, g.suffix);
      const sibling = rolloverBalanceId(g.seq, g.suffix, g.k);
      const roExpiry = g.rolloverExpiryMs ?? g.periodEndMs;
      const args = [
        mainId,
        meta(g, g.weight, g.periodEndMs, 0),
        g.allowance,
        g.renewal,
        cap,
        sibling,
        meta(g, g.weight + 1, roExpiry, 0),
        `${mainId}.ro`,
      ];
      const k = await keysOf(tenant, accountId);
      const fp = fingerprint('bundle-renew', args);
      const raw = await runScript(redis, 'bundle-renew', keyList(k, opId), [
        opId,
        fp,
        g.periodStartMs,
        retention,
        accountId,
        ...args,
      ]);
      const r = decodeResult(raw);
      if (r.code === 'OK' && !r.replayed) await redis.sadd(dirtyOutboxesKey(ks), k.outbox);
      const extra = JSON.parse((raw as [number, string])[1]) as { rolled?: string; dropped?: string };
      return {
        ...r,
        rolled: Number(extra.rolled ?? 0),
        dropped: Number(extra.dropped ?? 0),
        alreadyRenewed: r.detail === 'ALREADY_RENEWED',
      };
    },
  };
}

export type Bundles = ReturnType<typeof createBundles>;
