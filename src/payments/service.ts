/**
 * Recording payments and refunds (issue 14; docs/PAYMENTS.md). Each is three steps, so PostgreSQL and
 * Redis agree after any crash: the row `pending` (with its allocations) → the Redis movement under
 * the idempotent op id `payment:{reference}` → the row `applied` with its event. A row left pending
 * is finished by the next request with its reference, or by `repairPayments` at start.
 */
import { createHash } from 'node:crypto';
import { BalanceCode } from '../balances/codes.js';
import type { AccountView } from '../balances/store.js';
import { MoneyFormatError, parseMoney } from '../billing/core/currency.js';
import { reactivateIfSettled } from '../billing/dunning/suspensions.js';
import { inTransaction } from '../billing/documents/transaction.js';
import type { Allocation } from './allocate.js';
import type { PaymentDeps } from './deps.js';
import { PaymentError } from './errors.js';
import { paymentById, paymentByReference, pendingPayments, present, type PaymentRow } from './rows.js';
import { insertPayment, insertRefund, markApplied } from './write.js';

export interface PaymentRequest {
  reference: string;
  amountNano: bigint;
  currency: string;
  method: string;
  receivedAt?: Date;
  allocations?: Allocation[];
}

const hashOf = (x: unknown) =>
  createHash('sha256')
    .update(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
    .digest('hex');

/** The money balance payments credit: `main` if the account has it, else its first own money balance. */
export function mainMoneyBalance(v: AccountView): string {
  const own = v.balances.filter((b) => b.unit === 'money' && !b.shared);
  const b = own.find((x) => x.id === 'main') ?? own[0];
  if (!b) throw new PaymentError('INVALID_REQUEST', `account ${v.account.id} has no money balance to credit`);
  return b.id;
}

/** A positive amount in the currency's minor digits, or a 400 naming `/amount`. */
export function moneyOf(text: string, currency: string): bigint {
  let nano = 0n;
  try {
    nano = parseMoney(text, currency);
  } catch (err) {
    const reason = err instanceof MoneyFormatError ? err.message : 'not an amount';
    throw new PaymentError('INVALID_REQUEST', reason, [{ param: '/amount', reason }]);
  }
  if (nano <= 0n)
    throw new PaymentError('INVALID_REQUEST', 'the amount must be more than 0', [
      { param: '/amount', reason: 'must be more than 0' },
    ]);
  return nano;
}

/** A Redis amount is a safe integer of nano. */
function redisAmount(nano: bigint): number {
  if (nano > BigInt(Number.MAX_SAFE_INTEGER))
    throw new PaymentError('INVALID_REQUEST', 'the amount is larger than a balance holds', [
      { param: '/amount', reason: 'at most 9007199.254740991' },
    ]);
  return Number(nano);
}

/** The Redis movement of a pending row, then the row applied. Safe to run again. */
async function finish(deps: PaymentDeps, p: PaymentRow): Promise<void> {
  const { balances, pool, schema } = deps;
  if (p.status === 'pending') {
    const amount = redisAmount(p.amountNano);
    const r =
      p.kind === 'payment'
        ? await balances.credit(p.tenant, p.accountId, {
            opId: p.opId,
            balanceId: mainMoneyBalance((await balances.getAccount(p.tenant, p.accountId))!),
            amount,
            kind: 'topup',
          })
        : await balances.debit(p.tenant, p.accountId, {
            opId: p.opId,
            kind: 'adjust',
            force: true, // a refund is owed whatever the balance
            charge: { unit: 'generic', units: 0, amountNano: amount },
          });
    if (r.code !== BalanceCode.OK)
      throw new PaymentError('UNAVAILABLE', `${p.opId}: the balance store answered ${r.code}; retry`);
    await inTransaction(pool, (c) => markApplied(c, schema, p));
    if (p.kind === 'payment') await reactivate(deps, p);
  }
}

/**
 * A payment that leaves nothing overdue lifts the dunning suspension at once (not at the job's next
 * minute). The payment stands whatever happens here: a failure (Redis away, no dunning tables on
 * this engine) is left to the job's next pass, which applies the same rule.
 */
async function reactivate(deps: PaymentDeps, p: PaymentRow): Promise<void> {
  await reactivateIfSettled({ ...deps, now: deps.now ?? Date.now }, p.tenant, p.accountId).catch(() => false);
}

async function answer(deps: PaymentDeps, tenant: string, id: string) {
  const row = (await paymentById(deps.pool, deps.schema, tenant, id))!;
  return (await present(deps.pool, deps.schema, [row]))[0]!;
}

/** The first answer of a reference already used with this body (finishing it first), else 409. */
async function replay(deps: PaymentDeps, old: PaymentRow, hash: string) {
  if (old.requestHash !== hash)
    throw new PaymentError('CONFLICT', `reference ${old.reference} was used for another request`);
  await finish(deps, old);
  return answer(deps, old.tenant, old.id);
}

export async function recordPayment(
  deps: PaymentDeps,
  tenant: string,
  accountId: string,
  req: PaymentRequest,
) {
  const { pool, schema } = deps;
  const hash = hashOf({ accountId, ...req, receivedAt: req.receivedAt?.toISOString() });
  const old = await paymentByReference(pool, schema, tenant, req.reference);
  if (old) return replay(deps, old, hash);
  const view = await deps.balances.getAccount(tenant, accountId);
  if (!view) throw new PaymentError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
  if (view.account.currency !== req.currency)
    throw new PaymentError('CURRENCY_MISMATCH', `the account is in ${view.account.currency}`, [
      { param: '/currency', reason: `must be the account's currency, ${view.account.currency}` },
    ]);
  mainMoneyBalance(view);
  redisAmount(req.amountNano);
  const id = await inTransaction(pool, (c) =>
    insertPayment(c, schema, {
      tenant,
      accountId,
      amountNano: req.amountNano,
      currency: req.currency,
      method: req.method,
      reference: req.reference,
      requestHash: hash,
      receivedAt: req.receivedAt ?? new Date(),
      ...(req.allocations ? { allocations: req.allocations } : {}),
    }),
  );
  // null: the same reference was written by a concurrent request meanwhile.
  const row = await paymentByReference(pool, schema, tenant, req.reference);
  if (id === null) return replay(deps, row!, hash);
  await finish(deps, row!);
  return answer(deps, tenant, id);
}

export async function refundPayment(
  deps: PaymentDeps,
  tenant: string,
  paymentId: string,
  req: { reference: string; amount: string },
) {
  const { pool, schema } = deps;
  const hash = hashOf({ refundOf: paymentId, ...req });
  const old = await paymentByReference(pool, schema, tenant, req.reference);
  if (old) return replay(deps, old, hash);
  const paid = await paymentById(pool, schema, tenant, paymentId);
  if (!paid || paid.kind !== 'payment') throw new PaymentError('NOT_FOUND', `no payment ${paymentId}`);
  const amountNano = moneyOf(req.amount, paid.currency);
  redisAmount(amountNano);
  await finish(deps, paid); // its credit first: a refund never runs ahead of the money it returns
  const id = await inTransaction(pool, (c) =>
    insertRefund(c, schema, { tenant, paymentId, amountNano, reference: req.reference, requestHash: hash }),
  );
  const row = await paymentByReference(pool, schema, tenant, req.reference);
  if (id === null) return replay(deps, row!, hash);
  await finish(deps, row!);
  return answer(deps, tenant, id);
}

/** Finishes rows a crash left pending (at start); answers how many were finished. */
export async function repairPayments(deps: PaymentDeps): Promise<number> {
  let n = 0;
  for (const p of await pendingPayments(deps.pool, deps.schema, 1000)) {
    await finish(deps, p);
    n++;
  }
  return n;
}
