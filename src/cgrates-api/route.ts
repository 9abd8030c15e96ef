/**
 * POST /jsonrpc the way cgr-engine serves it over HTTP: `{"method","params":[{…}],"id"}` answered
 * `{"id","result","error"}` with HTTP 200 and a CGRateS error string (dispatch.ts). Unlike CGRateS
 * it is never open: a key of the engine is required (auth.ts). Registered only when enabled; the
 * plain TCP listener (tcp.ts) starts and stops with the app when a port is set.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { cgrActionsStore } from './actions-store.js';
import { actionPlanStore } from './action-plans-store.js';
import { cgrTriggersStore } from './action-triggers-store.js';
import { cdrReads } from './cdr-reads.js';
import type { BalanceStore } from '../balances/store.js';
import type { ApiKey } from '../config.js';
import type { ActiveTariff } from '../tariffs/active.js';
import type { Directory } from '../charging/directory.js';
import type { Sessions } from '../charging/sessions.js';
import { keyTable } from './auth.js';
import { answerText, dispatch, keyInRequest, type BaseContext } from './dispatch.js';
import { UNAUTHORIZED_API } from './errors.js';
import type { Obj } from './params.js';
import { cgratesTcp } from './tcp.js';

export interface CgratesApiOptions {
  /** Currency of the accounts SetAccount creates. */
  currency: string;
  /** Answer money as decimal strings instead of numbers. */
  decimalsAsStrings?: boolean;
  /** The clock (relative expiries, GetCost's `*now`); Date.now by default. */
  now?: () => number;
  /** PostgreSQL for the action profiles (without it the action methods are NOT_IMPLEMENTED). */
  store?: { pool: Pool; schema: string };
  /** The plain TCP listener (Go net/rpc/jsonrpc codec): its port (0 = any free one), none if unset. */
  tcpPort?: number;
  tcpHost?: string;
  /** Past this a TCP request is answered with an error (HTTP has the app's deadlines). */
  tcpDeadlineMs?: number;
  /** The folder LoadTariffPlanFromFolder loads from or under (default `tariffs`). */
  tariffRoot?: string;
}

export interface CgratesApiDeps extends CgratesApiOptions {
  apiKeys: ApiKey[];
  balances: BalanceStore;
  tariff: ActiveTariff;
  sessions: Sessions;
  directory: Directory;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The CGRateS TCP listener's port once listening (0 when there is none). */
    cgratesTcpPort: () => number;
  }
}

export function cgratesRoutes(app: FastifyInstance, deps: CgratesApiDeps): void {
  const who = keyTable(deps.apiKeys);
  const base: BaseContext = {
    balances: deps.balances,
    tariff: deps.tariff,
    sessions: deps.sessions,
    events: { tariff: () => deps.tariff.current(), balances: deps.balances, directory: deps.directory },
    actions: deps.store ? cgrActionsStore(deps.store.pool, deps.store.schema) : undefined,
    actionPlans: deps.store ? actionPlanStore(deps.store.pool, deps.store.schema) : undefined,
    plans: deps.store ? { ...deps.store, balances: deps.balances, now: deps.now ?? Date.now } : undefined,
    triggers: deps.store ? cgrTriggersStore(deps.store.pool, deps.store.schema) : undefined,
    cdrs: deps.store ? cdrReads(deps.store.pool, deps.store.schema) : undefined,
    currency: deps.currency,
    tariffRoot: deps.tariffRoot ?? 'tariffs',
    now: deps.now ?? Date.now,
    newId: randomUUID,
  };
  const asStrings = deps.decimalsAsStrings ?? false;
  app.post('/jsonrpc', { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Obj;
    const principal = who(req.headers) ?? who({ authorization: `Bearer ${keyInRequest(body)}` });
    if (!principal) {
      reply.header('www-authenticate', 'Basic realm="cgrates"');
      const refusal = { id: body.id ?? null, result: null, error: UNAUTHORIZED_API };
      return reply.status(401).type('application/json').send(refusal);
    }
    // An outage is thrown on: 503 with Retry-After from the app's error handler, as every route.
    const answer = await dispatch(base, principal, body, req.log);
    return reply.type('application/json').send(answerText(answer, asStrings));
  });
  const tcp =
    deps.tcpPort === undefined
      ? undefined
      : cgratesTcp({ base, who, asStrings, log: app.log, deadlineMs: deps.tcpDeadlineMs ?? 5000 });
  app.decorate('cgratesTcpPort', () => tcp?.port() ?? 0);
  if (tcp) {
    app.addHook('onReady', () => tcp.listen(deps.tcpPort!, deps.tcpHost ?? '127.0.0.1'));
    app.addHook('onClose', () => tcp.close());
  }
}
