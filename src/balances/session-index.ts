/**
 * Session bookkeeping around the charging step: where a session's account is found from its id,
 * the supervision (Tcc) sweep's hints, and the trail of requests that reached no account.
 */
import { dirtyOutboxesKey, dueSessionsKey, orphanOutboxKey, outboxesKey, sessionIndexKey } from './keys.js';
import type { StoreContext } from './store-context.js';

export type SessionIndex = ReturnType<typeof createSessionIndex>;

export function createSessionIndex(ctx: StoreContext) {
  const { redis, ks, now, keysOf } = ctx;
  return {
    /** The account a session was opened on (from its id alone), and the session's version and state. */
    async findSession(
      tenant: string,
      sessionId: string,
    ): Promise<{ accountId: string; version: number; info: string; state: string } | null> {
      const accountId = await redis.get(sessionIndexKey(ks, tenant, sessionId));
      if (!accountId) return null;
      const k = await keysOf(tenant, accountId);
      const [info, state, version] = await redis.hmget(k.session(sessionId), 'info', 'st', 'v');
      return info && state ? { accountId, version: Number(version), info, state } : null;
    },

    /** Where a session's account is found by later requests (kept as long as the session). */
    async indexSession(tenant: string, sessionId: string, accountId: string, ttlSeconds: number) {
      await redis.set(sessionIndexKey(ks, tenant, sessionId), accountId, 'EX', ttlSeconds);
    },

    /** The Tcc sweep hint of a session: due at `dueMs`, or none (closed). */
    async hintSession(tenant: string, sessionId: string, dueMs: number | null): Promise<void> {
      const member = `${tenant}\u0000${sessionId}`;
      if (dueMs === null) await redis.zrem(dueSessionsKey(ks), member);
      else await redis.zadd(dueSessionsKey(ks), dueMs, member);
    },

    /** Sessions whose Tcc deadline has passed (by their hints), at most `limit`. */
    async dueSessions(limit: number): Promise<{ tenant: string; sessionId: string }[]> {
      const due = await redis.zrangebyscore(dueSessionsKey(ks), '-inf', now(), 'LIMIT', 0, limit);
      return due.map((m) => {
        const at = m.indexOf('\u0000');
        return { tenant: m.slice(0, at), sessionId: m.slice(at + 1) };
      });
    },

    /**
     * The ids of a tenant's sessions with a sweep hint: every open session has one (a close removes
     * it), so this is the list of open sessions, give or take one closing now. Read in ZSCAN
     * batches (never one long command); at most `limit`.
     */
    async hintedSessions(tenant: string, limit: number): Promise<string[]> {
      const head = `${tenant}\u0000`;
      const match = `${head.replace(/[*?[\]\\]/g, '\\$&')}*`;
      const ids: string[] = [];
      let cursor = '0';
      do {
        const [next, flat] = await redis.zscan(dueSessionsKey(ks), cursor, 'MATCH', match, 'COUNT', 1000);
        for (let i = 0; i < flat.length && ids.length < limit; i += 2) ids.push(flat[i]!.slice(head.length));
        cursor = next;
      } while (cursor !== '0' && ids.length < limit);
      return ids;
    },

    /**
     * The trail entry of a request that reached no account (an unknown subscriber): the tenant's
     * own outbox, in the shape the step writes (the entry without its answer, and the answer).
     */
    async recordOrphan(tenant: string, trail: string, answer: string): Promise<void> {
      const outbox = orphanOutboxKey(ks, tenant);
      await Promise.all([
        redis.sadd(outboxesKey(ks), outbox),
        redis.xadd(outbox, '*', 'op', 'orphan', 'account', '', 'at', now(), 'trail', trail, 'answer', answer),
        redis.sadd(dirtyOutboxesKey(ks), outbox),
      ]);
    },
  };
}
