/**
 * The account event types an endpoint may subscribe to (docs/EVENTS.md has their payloads). A type
 * not listed here is refused at subscription (400 UNKNOWN_EVENT_TYPE), so a typo never subscribes an
 * endpoint to nothing. `*` subscribes to every type, those added later included.
 */
export const EVENT_TYPES = [
  'account.created',
  'account.status_changed',
  'account.suspended',
  'account.reactivated',
  'account.credit_limit_exceeded',
  'balance.low',
  'balance.exhausted',
  'bundle.threshold_reached',
  'spend.threshold_reached',
  'bundle.expiring',
  'bundle.renewed',
  'plan.renewed',
  'plan.renewal_due',
  'plan.renewal_failed',
  'plan.cancelled',
  'autotopup.requested',
  'autotopup.capped',
  'autotopup.disabled',
  'payment.received',
  'payment.refunded',
  'voucher.redeemed',
  'voucher.lockout',
  'invoice.finalized',
  'invoice.paid',
  'invoice.overdue',
  'invoice.voided',
  'invoice.pdf_failed',
  'credit_note.issued',
  'credit_note.pdf_failed',
  'billing_run.completed',
  'webhook.endpoint_disabled',
  'cgrates.action_posted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

export const isEventType = (t: string): t is EventType => KNOWN.has(t);

/** The types of a subscription that are neither known nor `*`. */
export function unknownTypes(types: readonly string[]): string[] {
  return types.filter((t) => t !== '*' && !KNOWN.has(t));
}
