/**
 * Redis key layout. Every key of an account carries one hash tag, so each script touches a single
 * slot and runs on Redis Cluster. Accounts in a shared group live under the **group's** tag (with
 * the group's balances), so a debit that draws from both never spans two slots.
 *
 *   P{a:T:ID}:acct:ID      account hash          P{a:T:ID}:bal:ID     balances of the account
 *   P{a:T:ID}:gbal         shared-group balances P{a:T:ID}:res:ID     reservations of the account
 *   P{a:T:ID}:resx:ID      reservation expiries  P{a:T:ID}:ledger     ledger stream of the tag
 *   P{a:T:ID}:op:ID:OPID   idempotency records   P{s:T:TYPE:VALUE}    subscription -> account
 *   P{g:T:GROUP}...        same layout for accounts of group GROUP
 *   Pledgers               set of ledger streams (for the drainer)
 */

export interface KeySpace {
  prefix: string;
}

function clean(s: string, what: string): string {
  if (s.length === 0 || s.length > 128 || /[{}\s]/.test(s)) throw new Error(`bad ${what} "${s}"`);
  return s;
}

export function tagOf(tenant: string, accountId: string, sharedGroup: string | null): string {
  return sharedGroup
    ? `{g:${clean(tenant, 'tenant')}:${clean(sharedGroup, 'shared group')}}`
    : `{a:${clean(tenant, 'tenant')}:${clean(accountId, 'account id')}}`;
}

export interface AccountKeys {
  tag: string;
  acct: string;
  bal: string;
  gbal: string;
  res: string;
  resx: string;
  ledger: string;
  op: (opId: string) => string;
}

export function accountKeys(ks: KeySpace, tag: string, accountId: string): AccountKeys {
  const base = `${ks.prefix}${tag}`;
  return {
    tag,
    acct: `${base}:acct:${accountId}`,
    bal: `${base}:bal:${accountId}`,
    gbal: `${base}:gbal`,
    res: `${base}:res:${accountId}`,
    resx: `${base}:resx:${accountId}`,
    ledger: `${base}:ledger`,
    op: (opId) => `${base}:op:${accountId}:${clean(opId, 'operation id')}`,
  };
}

export function subscriptionKey(ks: KeySpace, tenant: string, type: string, value: string): string {
  return `${ks.prefix}{s:${clean(tenant, 'tenant')}:${clean(type, 'subscription type')}:${clean(value, 'subscription')}}`;
}

export function ledgersKey(ks: KeySpace): string {
  return `${ks.prefix}ledgers`;
}
