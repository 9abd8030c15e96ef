/**
 * Failed redemptions counted per account and per API key: 5 in a 15-minute window (from the first
 * failure) lock that account or key out of redeeming until the window ends (429 with Retry-After).
 * In Redis, not PostgreSQL: a window is a key with a TTL (nothing to sweep), the check is one round
 * trip before any PIN is hashed, and a stream of wrong guesses writes no rows an attacker could grow.
 * A Redis flush forgets the counters: at worst five more guesses, against 10^16 PINs.
 */
import { createHash } from 'node:crypto';
import type { VoucherDeps } from './deps.js';

export const MAX_FAILURES = 5;
export const WINDOW_MS = 15 * 60_000;

/**
 * The counters a redemption is held to: its account's and its API key's (hashed, never the key).
 * Both under the tenant's hash tag (a key belongs to one tenant), so one MGET reads and one MULTI
 * counts both, on a Cluster too.
 */
export function failureKeys(
  deps: Pick<VoucherDeps, 'keyPrefix'>,
  tenant: string,
  accountId: string,
  apiKey: string,
) {
  const keyId = createHash('sha256').update(apiKey).digest('hex').slice(0, 32);
  const tag = `${deps.keyPrefix}{vf:${tenant}}`;
  return { account: `${tag}:a:${accountId}`, client: `${tag}:k:${keyId}` };
}

type Keys = ReturnType<typeof failureKeys>;

/**
 * Seconds until the caller may try again; 0 when neither counter is at the limit. One MGET (both keys
 * share the hash tag); the TTLs are read only for a caller at the limit, a rare second round trip.
 */
export async function lockedForSeconds(deps: Pick<VoucherDeps, 'redis'>, keys: Keys): Promise<number> {
  const counts = await deps.redis.mget(keys.account, keys.client);
  const full = [keys.account, keys.client].filter((_k, i) => Number(counts[i] ?? 0) >= MAX_FAILURES);
  if (full.length === 0) return 0;
  // A window that ended between the two reads (PTTL -2) locks nothing.
  const ttls = (await Promise.all(full.map((k) => deps.redis.pttl(k)))).filter((ms) => ms > 0);
  return ttls.length === 0 ? 0 : Math.max(...ttls.map((ms) => Math.ceil(ms / 1000)));
}

/** Counts one failure on both counters; answers the account's count now. */
export async function countFailure(deps: Pick<VoucherDeps, 'redis'>, keys: Keys): Promise<number> {
  // A window starts with its first failure: the key is created with its TTL, then only incremented.
  const r = await deps.redis
    .multi()
    .set(keys.account, '0', 'PX', WINDOW_MS, 'NX')
    .incr(keys.account)
    .set(keys.client, '0', 'PX', WINDOW_MS, 'NX')
    .incr(keys.client)
    .exec();
  return Number(r?.[1]?.[1] ?? 0);
}
