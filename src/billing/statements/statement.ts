/**
 * A prepaid statement's figures from ledger movements (pure: no I/O, no clock). A statement is not a
 * fiscal document: it tells a prepaid customer where their money went in one bill period — the
 * opening balance, what came in (top-ups, payments, vouchers, refunds…), what went out (usage by
 * type of record and category, fees, one-off debits…) and the closing balance — and it adds up
 * exactly: closing = opening + Σ credits + Σ debits, in nano, whatever the movements.
 */

/** One money movement of the account's own balances, as the ledger holds it. */
export interface LedgerMove {
  kind: string;
  opId: string;
  /** Signed change of the balance, nano. */
  deltaNano: bigint;
  /** The payment's method when the movement is a recorded payment (payments.op_id), else null. */
  paymentMethod?: string | null;
}

export type CreditGroup =
  'topups' | 'payments' | 'vouchers' | 'refunds' | 'credit_notes' | 'discounts' | 'adjustments';
export type DebitGroup =
  'usage' | 'fees' | 'one_off' | 'invoice_postings' | 'payment_refunds' | 'adjustments';

/**
 * Which line a movement belongs on. The op id says who moved the money (each writer names its
 * operations: `fee:`, `setup:`, `discount:`, `payment:`, `debit:`, `credit:`, `invoice:`,
 * `credit-note:`); the ledger kind says how (charging `debit`/`commit`, CDR batches `cdr`, `refund`…).
 */
export function groupOf(
  m: LedgerMove,
): { side: 'credit'; group: CreditGroup } | { side: 'debit'; group: DebitGroup } {
  const op = m.opId;
  if (m.deltaNano >= 0n) {
    if (op.startsWith('payment:'))
      return { side: 'credit', group: m.paymentMethod === 'voucher' ? 'vouchers' : 'payments' };
    if (op.startsWith('voucher:')) return { side: 'credit', group: 'vouchers' };
    if (op.startsWith('credit-note:')) return { side: 'credit', group: 'credit_notes' };
    if (op.startsWith('discount:')) return { side: 'credit', group: 'discounts' };
    if (m.kind === 'refund') return { side: 'credit', group: 'refunds' };
    if (m.kind === 'topup') return { side: 'credit', group: 'topups' };
    return { side: 'credit', group: 'adjustments' };
  }
  if (op.startsWith('fee:') || op.startsWith('setup:')) return { side: 'debit', group: 'fees' };
  if (op.startsWith('invoice:')) return { side: 'debit', group: 'invoice_postings' };
  if (op.startsWith('payment:')) return { side: 'debit', group: 'payment_refunds' };
  if (op.startsWith('debit:')) return { side: 'debit', group: 'one_off' };
  if (m.kind === 'cdr' || m.kind === 'commit' || m.kind === 'debit') return { side: 'debit', group: 'usage' };
  return { side: 'debit', group: 'adjustments' };
}

/** Usage charged in the period by type of record and category (from the rated rows). */
export interface ServiceUsage {
  tor: string;
  category: string;
  chargedNano: bigint;
}

export interface StatementFigures {
  openingNano: bigint;
  credits: Partial<Record<CreditGroup, bigint>>;
  debits: Partial<Record<DebitGroup, bigint>>;
  /** The usage debit split by service; the `other` line holds what the rated rows do not explain. */
  usageByService: ServiceUsage[];
  creditsNano: bigint;
  debitsNano: bigint;
  closingNano: bigint;
}

const add = <K extends string>(into: Partial<Record<K, bigint>>, key: K, v: bigint) => {
  into[key] = (into[key] ?? 0n) + v;
};

/**
 * The figures of one statement. `services` (usage as the rated rows tell it, positive = charged) is
 * only a split of the ledger's usage debit: its lines are shown negative and a line `other` takes the
 * difference, so the split always adds up to the ledger, which is what moved.
 */
export function statementFigures(
  openingNano: bigint,
  moves: readonly LedgerMove[],
  services: readonly ServiceUsage[] = [],
): StatementFigures {
  const credits: StatementFigures['credits'] = {};
  const debits: StatementFigures['debits'] = {};
  let creditsNano = 0n;
  let debitsNano = 0n;
  for (const m of moves) {
    const g = groupOf(m);
    if (g.side === 'credit') {
      add(credits, g.group, m.deltaNano);
      creditsNano += m.deltaNano;
    } else {
      add(debits, g.group, m.deltaNano);
      debitsNano += m.deltaNano;
    }
  }
  return {
    openingNano,
    credits,
    debits,
    usageByService: splitUsage(debits.usage ?? 0n, services),
    creditsNano,
    debitsNano,
    closingNano: openingNano + creditsNano + debitsNano,
  };
}

function splitUsage(usageNano: bigint, services: readonly ServiceUsage[]): ServiceUsage[] {
  const lines = services
    .filter((s) => s.chargedNano !== 0n)
    .map((s) => ({ tor: s.tor, category: s.category, chargedNano: -s.chargedNano }))
    .sort((a, b) => (a.tor + a.category < b.tor + b.category ? -1 : 1));
  const explained = lines.reduce((t, l) => t + l.chargedNano, 0n);
  if (usageNano !== explained)
    lines.push({ tor: 'other', category: 'other', chargedNano: usageNano - explained });
  return lines;
}
