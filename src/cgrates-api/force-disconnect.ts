/**
 * SessionSv1.ForceDisconnect: ends the tenant's open sessions that match a utils.SessionFilter
 * through the engine's own terminate (src/charging/sessions.ts), as CGRateS's forceSTerminate does
 * with no extra usage: what was reported is charged and the whole session priced once, the
 * reservations are released, the session's record is written. The engine has no bi-directional
 * connection to the switch, so the call itself is ended by the switch's next update (5002).
 *
 * Idempotent: an ended session is no longer listed, and a terminate that races another request on
 * the same session is looked at again (closed: done; still open: terminated at its next number).
 */
import { SessionError } from '../charging/sessions.js';
import { openSessions, type OpenSession } from './active-sessions.js';
import type { CgrContext } from './context.js';
import { CgrError, NOT_FOUND } from './errors.js';
import type { Obj } from './params.js';

const ATTEMPTS = 3;

/** Whether the session ended (by this call or another); false when the engine refused. */
async function terminate(c: CgrContext, tenant: string, open: OpenSession): Promise<boolean> {
  let record = open.record;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      // A terminate always closes the session, whatever its result code (an account barred meanwhile).
      await c.sessions.handle(tenant, open.sessionId, 'terminate', {
        requestNumber: record.lastRequest + 1,
        eventTime: new Date(c.now()).toISOString(),
        terminationCause: 'DIAMETER_ADMINISTRATIVE',
        mscc: [],
      });
      return true;
    } catch (err) {
      if (!(err instanceof SessionError)) throw err;
      if (err.code === 'SESSION_NOT_FOUND') return true;
      if (err.code !== 'REQUEST_CONFLICT' && err.code !== 'BUSY') throw err;
      const now = await c.sessions.get(tenant, open.sessionId);
      if (!now || now.state !== 'open') return true;
      record = now;
    }
  }
  return false;
}

export const forceDisconnectMethods = {
  /** "OK"; none matching is NOT_FOUND; some not ended is PARTIALLY_EXECUTED (as CGRateS replies it). */
  async 'SessionSv1.ForceDisconnect'(arg: Obj, c: CgrContext) {
    const list = await openSessions(arg, c);
    if (!list.length) throw new CgrError(NOT_FOUND);
    const tenant = c.principal.tenant;
    let failed = 0;
    for (const open of list) {
      try {
        if (!(await terminate(c, tenant, open))) failed++;
      } catch (err) {
        if (!(err instanceof SessionError)) throw err;
        c.log.warn({ err, sessionId: open.sessionId }, 'ForceDisconnect: terminate refused');
        failed++;
      }
    }
    return failed ? 'PARTIALLY_EXECUTED' : 'OK';
  },
};
