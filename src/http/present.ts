/** How accounts and balances look on the wire: money as decimal strings, voice in seconds. */
import type { Account } from '../balances/model.js';
import type { SnapshotBalance } from '../balances/snapshot.js';
import type { AccountView } from '../balances/store.js';
import { decimalToNano, nanoToDecimal } from '../rating/money.js';
import { baseToUsage, usageToBase } from '../rating/units.js';
import { AppError } from './errors.js';

export function presentValue(unit: string, base: number): string | number {
  if (unit === 'money') return nanoToDecimal(base);
  if (unit === 'voice') return baseToUsage('voice', base);
  return base;
}

export function toBase(unit: string, value: string | number, field: string): number {
  try {
    if (unit === 'money') return decimalToNano(String(value));
    const n = typeof value === 'number' ? value : Number(value);
    const base = unit === 'voice' ? usageToBase('voice', n) : n;
    if (!Number.isSafeInteger(base) || base < 0) throw new Error('out of range');
    return base;
  } catch (err) {
    throw new AppError('INVALID_REQUEST', `${field}: ${(err as Error).message}`, {
      invalidParams: [{ param: `/${field}`, reason: 'not a valid amount for this unit' }],
    });
  }
}

function presentBalance(b: SnapshotBalance) {
  return {
    id: b.id,
    unit: b.unit,
    value: presentValue(b.unit, b.value),
    reserved: presentValue(b.unit, b.held),
    available: presentValue(b.unit, b.value - b.held),
    weight: b.weight,
    shared: b.shared,
    activation: b.activationMs ? new Date(b.activationMs).toISOString() : null,
    expiry: b.expiryMs ? new Date(b.expiryMs).toISOString() : null,
    destinations: b.destinations,
    ratingGroups: b.ratingGroups,
    categories: b.categories,
    blocker: b.blocker,
    ratingSubject: b.ratingSubject,
  };
}

export function presentAccount(v: AccountView) {
  const a: Account = v.account;
  return {
    tenant: a.tenant,
    id: a.id,
    type: a.type,
    status: a.status,
    currency: a.currency,
    creditLimit: nanoToDecimal(a.creditLimitNano),
    subject: a.subject,
    sharedGroup: a.sharedGroup,
    subscriptions: a.subscriptions,
    balances: v.balances.map(presentBalance),
    reservations: v.reservations.map((r) => ({
      id: r.id,
      expiresAt: new Date(r.expiresMs).toISOString(),
      holds: r.holds.length,
    })),
  };
}
