/**
 * Redeeming a voucher (docs/VOUCHERS.md). Checks in this order: the caller is not locked out (429),
 * the account exists (404), a `reference` already used for another PIN (409), the claim, and when it
 * finds nothing, this account's own earlier redemption of the PIN (its first answer, finished if a
 * crash interrupted it). A PIN that is wrong, used, expired, blocked or of another currency answers
 * one identical VOUCHER_INVALID and counts a failure. A money voucher is redeemed by its claim (one
 * statement: the row `redeemed`, value_pending, and its event), then credited under `voucher:{serial}`
 * and marked delivered in the background; a plan voucher is claimed `redeeming`, assigned with that
 * reference, then `redeemed` with its event. Credit and assignment are idempotent, so finishing twice
 * (a retry, the repair after a crash) moves money once. Round trips of a money redemption: the
 * lockout and account reads together (Redis), the claim (PostgreSQL: one statement with the claims of
 * the redemptions running at the same time, claims.ts), the credit (Redis).
 */
import { BalanceCode } from '../balances/codes.js';
import type { AccountView } from '../balances/store.js';
import { formatMoney } from '../billing/core/currency.js';
import { assignmentId, assignPlan } from '../billing/plans/assignments.js';
import { PlansError } from '../billing/plans/errors.js';
import { inTransaction } from '../billing/documents/transaction.js';
import { appendEvent } from '../webhooks/append.js';
import { countFailure, failureKeys, lockedForSeconds, MAX_FAILURES, WINDOW_MS } from './attempts.js';
import { presentValue, valueOf } from './batch-rows.js';
import { claim } from './claims.js';
import { deliveredSettled, markDeliveredSoon } from './delivered.js';
import type { VoucherDeps } from './deps.js';
import { invalid, VoucherError } from './errors.js';
import { pinHash } from './keys.js';
import * as rows from './voucher-rows.js';

export interface RedeemRequest {
  pin: string;
  reference?: string;
  /** The caller's API key (only its hash is kept, as a failure counter's name). */
  apiKey: string;
}

/** The one answer to every PIN that does not redeem: it must not tell which reason held. */
const INVALID = () =>
  new VoucherError('VOUCHER_INVALID', 'This PIN cannot be redeemed: check it and try again.');

function moneyBalanceOf(v: AccountView): string | undefined {
  const own = v.balances.filter((b) => b.unit === 'money' && !b.shared);
  return (own.find((x) => x.id === 'main') ?? own[0])?.id;
}

/** Credits a money voucher's value under `voucher:{serial}` (a replay credits nothing twice). */
async function credit(
  deps: VoucherDeps,
  v: rows.VoucherWithValue,
  amountNano: bigint,
  view?: AccountView | null,
) {
  const account = view ?? (await deps.balances.getAccount(v.tenant, v.account_id!));
  const balanceId = account && moneyBalanceOf(account);
  if (!balanceId) {
    // Only a `redeeming` claim can be put back; a redeemed one waits for its balance (the repair).
    if (v.status === 'redeeming') await rows.release(deps.pool, deps.schema, v);
    throw invalid('/accountId', 'the account has no money balance to credit');
  }
  const r = await deps.balances.credit(v.tenant, v.account_id!, {
    opId: `voucher:${v.serial}`,
    balanceId,
    amount: Number(amountNano),
    kind: 'topup',
  });
  if (r.code !== BalanceCode.OK)
    throw new VoucherError('UNAVAILABLE', `voucher:${v.serial}: the balance store answered ${r.code}; retry`);
  return balanceId;
}

/**
 * What is left after the claim, then the row as it is: a money voucher redeemed by its claim is
 * credited and marked delivered (soon, off the answer); a `redeeming` one (a plan, or money claimed
 * without a money balance in view) gets its credit or plan, then `redeemed` with its event. Safe to
 * run again. A plan refusal releases the claim. `view` is the account as the caller read it.
 */
async function finish(
  deps: VoucherDeps,
  v: rows.VoucherWithValue,
  view?: AccountView | null,
): Promise<rows.VoucherWithValue> {
  if (v.status === 'redeemed' && !v.value_pending) return v;
  const value = valueOf(v);
  if (value.type === 'money') {
    const balanceId = await credit(deps, v, value.amountNano, view);
    if (v.status === 'redeeming') return rows.markRedeemed(deps.pool, deps.schema, v, { balanceId });
    markDeliveredSoon(deps, v);
    return { ...v, value_pending: false };
  }
  try {
    const { assignment } = await assignPlan(deps.plans!, v.tenant, v.account_id!, {
      plan: value.plan,
      version: value.version,
      quantity: 1,
      coupons: [],
      reference: `voucher:${v.serial}`,
    });
    return await rows.markRedeemed(deps.pool, deps.schema, v, { assignmentId: assignment.id });
  } catch (err) {
    if (err instanceof PlansError) await rows.release(deps.pool, deps.schema, v);
    throw err;
  }
}

async function answer(deps: VoucherDeps, v: rows.VoucherWithValue, replayed: boolean, view?: AccountView) {
  const now = await finish(deps, v, view);
  const value = valueOf(now);
  return {
    serial: now.serial,
    accountId: now.account_id,
    status: now.status,
    value: presentValue(value),
    ...(value.type === 'money'
      ? { amount: formatMoney(value.amountNano, value.currency), currency: value.currency }
      : {
          plan: value.plan,
          version: value.version,
          // The assignment's id follows from its reference, `voucher:{serial}` (assignments.ts).
          assignmentId: assignmentId(now.tenant, `voucher:${now.serial}`),
        }),
    reference: now.reference,
    redeemedAt: now.redeemed_at?.toISOString() ?? null,
    replayed,
  };
}

async function failed(
  deps: VoucherDeps,
  keys: ReturnType<typeof failureKeys>,
  tenant: string,
  accountId: string,
) {
  const n = await countFailure(deps, keys);
  if (n === MAX_FAILURES)
    await inTransaction(deps.pool, (c) =>
      appendEvent(c, deps.schema, {
        tenant,
        type: 'voucher.lockout',
        accountId,
        payload: { accountId, failures: n, lockedForSeconds: WINDOW_MS / 1000 },
      }),
    );
  return INVALID();
}

export async function redeemVoucher(
  deps: VoucherDeps,
  tenant: string,
  accountId: string,
  req: RedeemRequest,
) {
  const keys = failureKeys(deps, tenant, accountId, req.apiKey);
  // Both reads at once (one round trip of waiting); the lockout is still answered first.
  const [wait, view] = await Promise.all([
    lockedForSeconds(deps, keys),
    deps.balances.getAccount(tenant, accountId),
  ]);
  if (wait > 0)
    throw new VoucherError(
      'TOO_MANY_ATTEMPTS',
      `too many failed redemptions: retry in ${wait} s`,
      undefined,
      wait,
    );
  if (!view) throw new VoucherError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
  if (!/^\d{16}$/.test(req.pin)) throw invalid('/pin', 'must be 16 digits');
  const hash = pinHash(deps.keys.pinKey, tenant, req.pin);
  const { pool, schema } = deps;
  if (req.reference) {
    const prior = await rows.voucherByReference(pool, schema, tenant, accountId, req.reference);
    if (prior && !prior.pin_hash.equals(hash))
      throw new VoucherError('CONFLICT', `reference ${req.reference} was used for another voucher`);
    if (prior) return answer(deps, prior, true);
  }
  let won: rows.VoucherWithValue | undefined;
  try {
    won = await claim(pool, schema, {
      tenant,
      accountId,
      hash,
      reference: req.reference ?? null,
      at: new Date(deps.now()),
      currency: view.account.currency,
      balanceId: moneyBalanceOf(view),
    });
  } catch (err) {
    // The same reference claimed another PIN at the same moment.
    if ((err as { code?: string }).code === '23505')
      throw new VoucherError('CONFLICT', `reference ${req.reference} was used for another voucher`);
    throw err;
  }
  if (won) return answer(deps, won, false, view);
  // This account's own earlier (or concurrent) redemption of the PIN: its first answer.
  const again = await rows.claimedBy(pool, schema, tenant, accountId, hash);
  if (again) return answer(deps, again, true);
  throw await failed(deps, keys, tenant, accountId);
}

/** Finishes redemptions a crash left `redeeming` for over `olderThanMs`; answers how many. */
export async function repairRedemptions(deps: VoucherDeps, olderThanMs: number): Promise<number> {
  let n = 0;
  for (const v of await rows.redeemingRows(deps.pool, deps.schema, 1000, olderThanMs)) {
    try {
      await finish(deps, v);
    } catch (err) {
      if (!(err instanceof PlansError) && !(err instanceof VoucherError)) throw err;
    }
    n++;
  }
  await deliveredSettled(deps);
  return n;
}
