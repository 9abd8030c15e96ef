/**
 * Provisioning: balances added, changed and removed, credits and debits (adjustments). Each is one
 * script on the account's tag; a refusal changes nothing and is not remembered under its operation
 * id, so a corrected retry may reuse it. The outbox is marked dirty only after a write.
 * Every provisioning write is acknowledged only once a replica of its master has it (when the
 * master has one: src/infra/replica-wait.ts): money coming in survives a failover.
 */
import { assertAmount, chargeArgs, type Priced } from './charge-args.js';
import { BalanceCode, BalanceStoreError } from './codes.js';
import { fingerprint } from './identity.js';
import { dirtyOutboxesKey, type AccountKeys } from './keys.js';
import type { BalanceFilters, BalanceUnit, Charge } from './model.js';
import { payingFields } from './paying-fields.js';
import { proRata } from './pro-rata.js';
import type { ReplicaWait } from '../infra/replica-wait.js';
import { functionName, loadLibrary, runScript, type Verb } from './scripts.js';
import { decodeResult, type OpResult, type SnapshotBalance } from './snapshot.js';
import type { StoreContext } from './store-context.js';

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

export function createProvisioning(
  ctx: StoreContext,
  balancesOf: (tenant: string, id: string) => Promise<SnapshotBalance[] | undefined>,
  replicaWait?: ReplicaWait,
) {
  const { redis, ks, retention, now, keyList } = ctx;
  const keysOf = ctx.keysOf;

  /**
   * Runs a provisioning script and answers once a replica has what it wrote. A replay wrote
   * nothing now, but its first run may not have reached a replica (its answer was lost, or was a
   * 503 for that reason): the operation's record has its expiry set again, a write WAIT can wait
   * for, which reaches the replicas after the first run did.
   */
  async function acknowledged(verb: Verb, keys: string[], argv: (string | number)[]): Promise<unknown> {
    const opKey = keys[keys.length - 1]!;
    // Nothing to wait for (no replica): one command, auto-pipelined with the other requests' commands
    // of this tick instead of a pipeline of its own (a socket write per request).
    if (!replicaWait || (await replicaWait.replicasFor(opKey)) === 0)
      return runScript(redis, verb, keys, argv);
    const send = () =>
      replicaWait.write(
        opKey,
        (p) => p.fcall(functionName(verb), keys.length, ...keys, ...argv).pexpire(opKey, retention * 1000),
        ([first]) => !first?.[0] && decodeResult(first?.[1]).code === BalanceCode.OK,
      );
    let [[err, raw]] = (await send()) as [[Error | null, unknown]];
    if (err && /function not found/i.test(err.message)) {
      await loadLibrary(redis);
      [[err, raw]] = (await send()) as [[Error | null, unknown]];
    }
    if (err) throw err;
    return raw;
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
    const r = decodeResult(await acknowledged(verb, keys, [opId, fp, now(), retention, accountId, ...args]));
    if (r.code === BalanceCode.OK && !r.replayed) await redis.sadd(dirtyOutboxesKey(ks), k.outbox);
    return r;
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
    tail: string[] = [],
  ): Promise<OpResult> {
    const k = await keysOf(tenant, id);
    let priced: Priced | undefined;
    for (let round = 0; round < MAX_PRICINGS; round++) {
      const args = [...head, ...chargeArgs(c, priced), opts.note ?? '', ...tail];
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
      const b = (await balancesOf(tenant, id))?.find((x) => x.id === balanceId);
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

    /**
     * Takes what a charge costs: matching unit balances first, then money. All or nothing. `force`
     * skips the floor check (billing-internal callers only: postpaid fees, invoice settlement).
     */
    async debit(
      tenant: string,
      id: string,
      req: { opId: string; charge: Charge; kind?: 'debit' | 'adjust'; force?: boolean } & ChargeOptions,
    ): Promise<OpResult> {
      const kind = req.kind ?? 'debit';
      const force = req.force === true;
      return charged(
        'debit',
        tenant,
        id,
        req.opId,
        fingerprint('debit', force ? [req.charge, kind, 'force'] : [req.charge, kind]),
        [kind],
        req.charge,
        req,
        force ? ['force'] : [],
      );
    },
  };
}
