/**
 * SessionSv1.GetActiveSessions: the engine's open charging sessions of the caller's tenant as
 * CGRateS's sessions.ExternalSession (v0.10/v0.11 sessions/session.go), filtered by
 * utils.SessionFilter. The open sessions are the ones with a sweep hint (balances/session-index.ts),
 * each read as GET /v1/sessions/{id} reads it; one closing meanwhile is left out.
 *
 * A session id the facade opened is `OriginID@OriginHost` (session-event.ts): it is split back at
 * the last '@', and CGRID is CGRateS's utils.Sha1(OriginID, OriginHost).
 */
import { createHash } from 'node:crypto';
import type { SessionRecord } from '../charging/session-model.js';
import type { CgrContext } from './context.js';
import { CgrError, NOT_FOUND } from './errors.js';
import type { Obj } from './params.js';
import { passes, readSessionFilter } from './session-filter.js';
import { GO_ZERO_TIME, goTime } from './go-time.js';

/** How many open sessions of a tenant one call looks at (a larger tenant filters by OriginID). */
export const MAX_SCANNED = 20_000;
const BATCH = 100;

export interface OpenSession {
  sessionId: string;
  record: SessionRecord;
  external: ReturnType<typeof externalSession>;
}

/** What the session used so far in CGRateS's unit: nanoseconds for voice, octets, messages. */
function usageOf(s: SessionRecord): number {
  const used = Object.values(s.groups).reduce((sum, g) => sum + g.used, 0);
  return s.tor === 'voice' ? used * 1e9 : used;
}

export function externalSession(sessionId: string, s: SessionRecord) {
  const at = sessionId.lastIndexOf('@');
  const originId = at > 0 ? sessionId.slice(0, at) : sessionId;
  const originHost = at > 0 ? sessionId.slice(at + 1) : '';
  const usage = usageOf(s);
  return {
    CGRID: createHash('sha1').update(originId).update(originHost).digest('hex'),
    RunID: '*default',
    ToR: `*${s.tor}`,
    OriginID: originId,
    OriginHost: originHost,
    Source: 'SessionS_',
    RequestType: '*prepaid',
    Tenant: s.tenant,
    Category: s.category,
    Account: s.accountId,
    Subject: s.subject || s.accountId,
    Destination: s.destination,
    SetupTime: goTime(s.startedAt),
    AnswerTime: goTime(s.startedAt),
    Usage: usage,
    ExtraFields: {} as Record<string, string>,
    NodeID: '',
    LoopIndex: 0,
    DurationIndex: usage,
    MaxRate: 0,
    MaxRateUnit: 0,
    MaxCostSoFar: 0,
    // The engine does not debit on a timer: the network reports usage (no DebitInterval).
    DebitInterval: 0,
    NextAutoDebit: GO_ZERO_TIME,
  };
}

/** The tenant's open sessions that pass the filter, in session id order, at most its Limit. */
export async function openSessions(arg: Obj, c: CgrContext): Promise<OpenSession[]> {
  const filter = readSessionFilter(arg);
  const tenant = c.tenantOf(filter.tenant);
  const ids = (await c.balances.hintedSessions(tenant, MAX_SCANNED)).sort();
  const out: OpenSession[] = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const records = await Promise.all(batch.map((id) => c.sessions.get(tenant, id)));
    batch.forEach((sessionId, k) => {
      const record = records[k];
      if (!record || record.state !== 'open' || record.expiresAtMs <= c.now()) return;
      const external = externalSession(sessionId, record);
      if (passes(filter.rules, external)) out.push({ sessionId, record, external });
    });
    if (filter.limit > 0 && out.length >= filter.limit) return out.slice(0, filter.limit);
  }
  return out;
}

export const activeSessionMethods = {
  /** []*ExternalSession; none is NOT_FOUND, as CGRateS answers. */
  async 'SessionSv1.GetActiveSessions'(arg: Obj, c: CgrContext) {
    const list = await openSessions(arg, c);
    if (!list.length) throw new CgrError(NOT_FOUND);
    return list.map((s) => s.external);
  },
};
