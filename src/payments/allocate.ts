/**
 * How a payment is spread over open invoices (pure, no I/O): oldest due date first, or as the caller
 * tells; what is left is the account's unapplied credit. An ask past an invoice's amount due, past
 * the payment, or naming an invoice that is not open is refused whole (nothing is allocated).
 */
export interface OpenInvoice {
  id: string;
  dueNano: bigint;
}

export interface Allocation {
  invoiceId: string;
  amountNano: bigint;
}

export type AllocationRefusal =
  | { cause: 'INVOICE_NOT_OPEN'; invoiceId: string }
  | { cause: 'ALLOCATION_EXCEEDS_DUE'; invoiceId: string }
  | { cause: 'ALLOCATION_EXCEEDS_PAYMENT' }
  | { cause: 'DUPLICATE_INVOICE'; invoiceId: string };

export type AllocationResult =
  { ok: true; allocations: Allocation[]; unappliedNano: bigint } | { ok: false; refusal: AllocationRefusal };

/** `open` in the order money goes to them (oldest due date first). */
export function allocate(amountNano: bigint, open: OpenInvoice[], asked?: Allocation[]): AllocationResult {
  return asked ? allocateAsked(amountNano, open, asked) : allocateOldestFirst(amountNano, open);
}

function allocateOldestFirst(amountNano: bigint, open: OpenInvoice[]): AllocationResult {
  let left = amountNano;
  const allocations: Allocation[] = [];
  for (const inv of open) {
    if (left === 0n) break;
    const take = inv.dueNano < left ? inv.dueNano : left;
    if (take > 0n) allocations.push({ invoiceId: inv.id, amountNano: take });
    left -= take;
  }
  return { ok: true, allocations, unappliedNano: left };
}

function allocateAsked(amountNano: bigint, open: OpenInvoice[], asked: Allocation[]): AllocationResult {
  const due = new Map(open.map((i) => [i.id, i.dueNano]));
  const seen = new Set<string>();
  let total = 0n;
  for (const a of asked) {
    if (seen.has(a.invoiceId))
      return { ok: false, refusal: { cause: 'DUPLICATE_INVOICE', invoiceId: a.invoiceId } };
    seen.add(a.invoiceId);
    const d = due.get(a.invoiceId);
    if (d === undefined) return { ok: false, refusal: { cause: 'INVOICE_NOT_OPEN', invoiceId: a.invoiceId } };
    if (a.amountNano > d)
      return { ok: false, refusal: { cause: 'ALLOCATION_EXCEEDS_DUE', invoiceId: a.invoiceId } };
    total += a.amountNano;
  }
  if (total > amountNano) return { ok: false, refusal: { cause: 'ALLOCATION_EXCEEDS_PAYMENT' } };
  return { ok: true, allocations: asked.filter((a) => a.amountNano > 0n), unappliedNano: amountNano - total };
}
