/**
 * POST /jsonrpc the way cgr-engine serves it over HTTP: `{"method","params":[{…}],"id"}` answered
 * `{"id","result","error"}` with HTTP 200 and a CGRateS error string. Unlike CGRateS it is never
 * open: a key of the engine is required (src/cgrates-api/auth.ts). Registered only when enabled.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { actionMethods } from './actions.js';
import { maxUsageMethods } from './max-usage.js';
import { cgrActionsStore } from './actions-store.js';
import type { BalanceStore } from '../balances/store.js';
import type { ApiKey, Role } from '../config.js';
import type { ActiveTariff } from '../tariffs/active.js';
import type { Directory } from '../charging/directory.js';
import type { Sessions } from '../charging/sessions.js';
import { sessionMethods } from './sessions.js';
import { accountMethods } from './accounts.js';
import { keyTable } from './auth.js';
import { balanceMethods, balanceMethodsV2 } from './balances.js';
import { contextFor, type CgrContext } from './context.js';
import { costMethods } from './cost.js';
import { CgrError, jsonKind, notConvertible, UNAUTHORIZED_API } from './errors.js';
import { BalanceStoreError } from '../balances/codes.js';
import { isUnavailable } from '../infra/unavailable.js';
import { writeJson } from './money.js';
import type { Obj } from './params.js';

export interface CgratesApiOptions {
  /** Currency of the accounts SetAccount creates. */
  currency: string;
  /** Answer money as decimal strings instead of numbers. */
  decimalsAsStrings?: boolean;
  /** The clock (relative expiries, GetCost's `*now`); Date.now by default. */
  now?: () => number;
  /** PostgreSQL for the action profiles (without it the action methods are NOT_IMPLEMENTED). */
  store?: { pool: Pool; schema: string };
}

export interface CgratesApiDeps extends CgratesApiOptions {
  apiKeys: ApiKey[];
  balances: BalanceStore;
  tariff: ActiveTariff;
  sessions: Sessions;
  directory: Directory;
}

type Method = (arg: Obj, c: CgrContext) => Promise<unknown>;

const METHODS: Record<string, Method> = {
  'APIerSv1.Ping': async () => 'Pong',
  ...accountMethods,
  ...balanceMethods,
  ...balanceMethodsV2,
  ...costMethods,
  ...sessionMethods,
  ...actionMethods,
  ...maxUsageMethods,
};

const NETWORK = new Set(['APIerSv1.GetCost', 'APIerSv1.GetMaxUsage', 'APIerSv1.GetMaxSessionTime']);

/** Who may call what: provisioning is billing's, pricing the network's too, self-care reads its own. */
function allowed(role: Role, method: string): boolean {
  if (role === 'billing') return true;
  if (method === 'APIerSv1.Ping') return true;
  if (role === 'network') return NETWORK.has(method) || method.startsWith('SessionSv1.');
  if (role === 'selfcare') return method === 'APIerSv2.GetAccount';
  return false;
}

/** Go net/rpc's own refusals of a method name. */
function methodError(name: string): string {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return `rpc: service/method request ill-formed: ${name}`;
  const service = name.slice(0, dot);
  const known = Object.keys(METHODS).some((m) => m.startsWith(`${service}.`));
  return known ? `rpc: can't find method ${name}` : `rpc: can't find service ${name}`;
}

/** The one argument, as Go's jsonrpc server codec reads `params` into `[1]interface{}`. */
function argOf(params: unknown): Obj {
  if (params === undefined || params === null) throw new CgrError('jsonrpc: request body missing params');
  if (!Array.isArray(params))
    throw new CgrError(`json: cannot unmarshal ${jsonKind(params)} into Go value of type [1]interface {}`);
  const arg: unknown = params[0];
  if (arg === undefined || arg === null) return {};
  if (jsonKind(arg) !== 'object')
    throw new CgrError(`json: cannot unmarshal ${jsonKind(arg)} into Go value of type struct`);
  return arg as Obj;
}

/** A method's failure as CGRateS's error string; only the engine's own failures are SERVER_ERROR. */
function errorText(err: unknown, log: FastifyBaseLogger): string {
  if (err instanceof CgrError) return err.message;
  if (err instanceof BalanceStoreError && (err.code === 'INVALID_AMOUNT' || err.code === 'INVALID_REQUEST'))
    return notConvertible(err.message).message;
  log.error({ err }, 'jsonrpc method failed');
  return `SERVER_ERROR: ${(err as Error).message}`;
}

export function cgratesRoutes(app: FastifyInstance, deps: CgratesApiDeps): void {
  const who = keyTable(deps.apiKeys);
  const base = {
    balances: deps.balances,
    tariff: deps.tariff,
    sessions: deps.sessions,
    events: { tariff: () => deps.tariff.current(), balances: deps.balances, directory: deps.directory },
    actions: deps.store ? cgrActionsStore(deps.store.pool, deps.store.schema) : undefined,
    currency: deps.currency,
    now: deps.now ?? Date.now,
    newId: randomUUID,
  };
  app.post('/jsonrpc', { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Obj;
    const id = body.id ?? null;
    const principal = who(req.headers);
    if (!principal) {
      reply.header('www-authenticate', 'Basic realm="cgrates"');
      return reply.status(401).type('application/json').send({ id, result: null, error: UNAUTHORIZED_API });
    }
    const name = typeof body.method === 'string' ? body.method : '';
    let answer: { id: unknown; result: unknown; error: string | null };
    try {
      const method = METHODS[name];
      if (!method) throw new CgrError(methodError(name));
      const arg = argOf(body.params);
      if (!allowed(principal.role, name)) throw new CgrError(UNAUTHORIZED_API);
      answer = { id, result: await method(arg, contextFor(base, principal, req.log)), error: null };
    } catch (err) {
      // Redis or PostgreSQL away: 503 with Retry-After from the app's error handler, as every route.
      if (isUnavailable(err)) throw err;
      answer = { id, result: null, error: errorText(err, req.log) };
    }
    const token = `~${randomBytes(12).toString('hex')}~`;
    return reply.type('application/json').send(writeJson(answer, deps.decimalsAsStrings ?? false, token));
  });
}
