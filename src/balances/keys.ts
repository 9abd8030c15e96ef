/**
 * Redis key layout. Every key of an account carries one hash tag, so each script touches a single
 * slot and runs on Redis Cluster. Accounts in a shared group live under the **group's** tag (with
 * the group's balances), so a debit that draws from both never spans two slots.
 *
 *   P{a:T:ID}:acct:ID      account hash          P{a:T:ID}:bal:ID     balances of the account
 *   P{a:T:ID}:gbal         shared-group balances P{a:T:ID}:res:ID     reservations of the account
 *   P{a:T:ID}:resx:ID      reservation expiries  P{a:T:ID}:outbox     stream of what PostgreSQL keeps
 *   P{a:T:ID}:op:ID:OPID   idempotency records   P{s:T:TYPE:VALUE}    subscription -> account
 *   P{a:T:ID}:sess:SID     a charging session    P{si:T:SID}          session -> account
 *   P{a:T:ID}:subfence:ID  subscription fences   P{s:T:TYPE:VALUE}:v  claim version (Cluster, identity.ts)
 *   P{d:T:ID}              account -> its tag
 *   P{g:T:GROUP}...        same layout for accounts of group GROUP
 *   Poutboxes              set of every outbox   Poutbox:dirty        outboxes written since the last drain
 *   P{o:T}:outbox          records of requests that reached no account (unknown subscribers)
 *   P{c:T}:outbox|journal  CDR batches of tenant T (standalone; a Cluster uses each tag's, P{a:..}:journal)
 *   Psessions:due          zset: session -> Tcc deadline (the sweep's hints)
 *
 * The outbox holds ledger entries (balance movements), rated records and the charging trail, written
 * by the same script as the change they describe; the drain moves them to PostgreSQL.
 */

export interface KeySpace {
  prefix: string;
}

function clean(s: string, what: string): string {
  if (s.length === 0 || s.length > 128 || /[{}\s]/.test(s)) throw new Error(`bad ${what} "${s}"`);
  return s;
}

/**
 * A caller's id (session, event, operation) as a key part: any printable id up to 300 characters,
 * with braces and % escaped (a brace would move the hash tag).
 */
function idPart(id: string, what: string): string {
  if (id.length === 0 || id.length > 300 || /\s/.test(id)) throw new Error(`bad ${what} "${id}"`);
  return id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
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
  outbox: string;
  op: (opId: string) => string;
  session: (sessionId: string) => string;
  /** Cluster only: the claim versions below which a subscription may no longer be listed (identity.ts). */
  fence: string;
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
    outbox: `${base}:outbox`,
    op: (opId) => `${base}:op:${accountId}:${idPart(opId, 'operation id')}`,
    session: (sessionId) => `${base}:sess:${idPart(sessionId, 'session id')}`,
    fence: `${base}:subfence:${accountId}`,
  };
}

export function subscriptionKey(ks: KeySpace, tenant: string, type: string, value: string): string {
  return `${ks.prefix}{s:${clean(tenant, 'tenant')}:${clean(type, 'subscription type')}:${clean(value, 'subscription')}}`;
}

/** The version of a subscription's claim, beside its directory key (same slot). */
export function subscriptionVersionKey(ks: KeySpace, tenant: string, type: string, value: string): string {
  return `${subscriptionKey(ks, tenant, type, value)}:v`;
}

/** Where an account's tag is found from its id (a shared group's, or its own). */
export function accountDirectoryKey(ks: KeySpace, tenant: string, id: string): string {
  return `${ks.prefix}{d:${clean(tenant, 'tenant')}:${clean(id, 'account id')}}`;
}

export function outboxesKey(ks: KeySpace): string {
  return `${ks.prefix}outboxes`;
}

export function dirtyOutboxesKey(ks: KeySpace): string {
  return `${ks.prefix}outbox:dirty`;
}

/**
 * Where CDR batches write on a standalone Redis: one outbox and one journal per tenant for all the
 * accounts of a batch (on a Cluster each account's own tag is used instead).
 */
export function cdrOutboxKey(ks: KeySpace, tenant: string): string {
  return `${ks.prefix}{c:${clean(tenant, 'tenant')}}:outbox`;
}

export function cdrJournalKey(ks: KeySpace, tenant: string): string {
  return `${ks.prefix}{c:${clean(tenant, 'tenant')}}:journal`;
}

/** The journal of CDR batches of an account tag (Cluster). */
export function tagJournalKey(ks: KeySpace, tag: string): string {
  return `${ks.prefix}${tag}:journal`;
}

/** Records of requests that reached no account (an unknown subscriber's trail). */
export function orphanOutboxKey(ks: KeySpace, tenant: string): string {
  return `${ks.prefix}{o:${clean(tenant, 'tenant')}}:outbox`;
}

/** Where a session's account is found from its id alone (updates carry no subscriber). */
export function sessionIndexKey(ks: KeySpace, tenant: string, sessionId: string): string {
  return `${ks.prefix}{si:${clean(tenant, 'tenant')}:${idPart(sessionId, 'session id')}}`;
}

/** Sweep hints: sessions due at their score (epoch ms) are looked at by the sweeper. */
export function dueSessionsKey(ks: KeySpace): string {
  return `${ks.prefix}sessions:due`;
}
