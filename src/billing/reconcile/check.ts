/**
 * The reconciliation rules (pure; billing.md E.3, test #16): what must hold between Redis, the
 * ledger and the documents, and the reason given for each difference found.
 *
 * 1. Every balance of an account: its value in Redis = Σ of its ledger deltas (every script writes
 *    its movements to the outbox in the same atomic call, and the drain stores them). While the
 *    account's outbox still holds entries the ledger is merely behind (`UNDRAINED_OUTBOX`).
 * 2. A postpaid account: Σ of its money balances = − open amount due − unbilled charges
 *    + unapplied payment credit + account-credit notes, where unbilled = Σ billable rows
 *    − Σ ledger-backed lines of its issued invoices (the run posts only tax and rounding).
 *    A member of a shared group counts what the group's balances paid for it (the ledger names the
 *    member whose operation moved a group balance) as its own money: its usage is on its documents.
 * 3. A shared group: each of its balances in Redis = Σ of the ledger deltas its members' operations
 *    made to it (the group's ledger), and what it paid for members is what their documents carry
 *    (rule 2 of each postpaid member, with that payment counted).
 */

export interface BalanceSide {
  balanceId: string;
  unit: string;
  nano: bigint;
}

export type Reason =
  | 'UNDRAINED_OUTBOX'
  | 'LEDGER_DIFFERS_FROM_REDIS'
  | 'BALANCE_NOT_IN_REDIS'
  | 'MANUAL_MOVEMENTS'
  | 'BILLABLE_ROWS_DIFFER_FROM_BALANCE';

export interface Difference {
  check: 'ledger' | 'postpaid' | 'group';
  balanceId?: string;
  expectedNano: bigint;
  actualNano: bigint;
  differenceNano: bigint;
  reason: Reason;
  detail: string;
}

/** Rule 1 for one account: Redis values against ledger sums, balance by balance. */
export function ledgerDifferences(
  redis: readonly BalanceSide[],
  ledger: readonly BalanceSide[],
  undrained: boolean,
  check: 'ledger' | 'group' = 'ledger',
): Difference[] {
  const inLedger = new Map(ledger.map((b) => [b.balanceId, b.nano]));
  const out: Difference[] = [];
  const differ = (balanceId: string, expected: bigint, actual: bigint, reason: Reason, detail: string) =>
    out.push({
      check,
      balanceId,
      expectedNano: expected,
      actualNano: actual,
      differenceNano: actual - expected,
      reason: undrained ? 'UNDRAINED_OUTBOX' : reason,
      detail: undrained
        ? 'the outbox still holds entries not yet drained into the ledger; check again'
        : detail,
    });
  for (const b of redis) {
    const sum = inLedger.get(b.balanceId) ?? 0n;
    if (sum !== b.nano)
      differ(
        b.balanceId,
        sum,
        b.nano,
        'LEDGER_DIFFERS_FROM_REDIS',
        'Redis value ≠ Σ ledger deltas of the balance',
      );
  }
  const held = new Set(redis.map((b) => b.balanceId));
  for (const b of ledger)
    if (!held.has(b.balanceId) && b.nano !== 0n)
      differ(
        b.balanceId,
        b.nano,
        0n,
        'BALANCE_NOT_IN_REDIS',
        'the ledger sums to a value for a balance Redis no longer has',
      );
  return out;
}

export interface PostpaidFigures {
  /** Σ of the account's own money balances in Redis, plus groupPaidNano. */
  moneyNano: bigint;
  /** A shared group's member: the money its group's balances paid for it (ledger, not by hand; ≤ 0). */
  groupPaidNano: bigint;
  openDueNano: bigint;
  billableNano: bigint;
  billedNano: bigint;
  unappliedCreditNano: bigint;
  accountCreditNano: bigint;
  /** Σ of money moved by hand (top-ups, `credit:`/`debit:` adjustments): on no document by design. */
  manualNano: bigint;
}

export function expectedMoney(f: PostpaidFigures): bigint {
  return -f.openDueNano - (f.billableNano - f.billedNano) + f.unappliedCreditNano + f.accountCreditNano;
}

/**
 * Rule 2 for one postpaid account, or null when it holds. `ledgerReason`: the reason rule 1 gave
 * for this account, if it failed (the ledger being behind or wrong explains this difference too).
 */
export function postpaidDifference(f: PostpaidFigures, ledgerReason: Reason | null): Difference | null {
  const expected = expectedMoney(f);
  const diff = f.moneyNano - expected;
  if (diff === 0n) return null;
  const [reason, detail]: [Reason, string] = ledgerReason
    ? [ledgerReason, 'the ledger check of this account failed first']
    : diff === f.manualNano
      ? ['MANUAL_MOVEMENTS', 'money moved by hand (top-ups, adjustments) that no document carries']
      : ['BILLABLE_ROWS_DIFFER_FROM_BALANCE', 'billable rows, documents and the balance disagree'];
  return {
    check: 'postpaid',
    expectedNano: expected,
    actualNano: f.moneyNano,
    differenceNano: diff,
    reason,
    detail,
  };
}
