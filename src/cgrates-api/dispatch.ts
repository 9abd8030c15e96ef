/**
 * One JSON-RPC request of CGRateS's API, whatever carried it (HTTP in route.ts, TCP in tcp.ts):
 * the method table, who may call what, Go net/rpc's refusals of a method or its params, and the
 * answer `{"id","result","error"}` as JSON text with exact money (money.ts).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Role } from '../config.js';
import type { Principal } from '../http/auth.js';
import { accountMethods, accountMethodsV1 } from './accounts.js';
import { actionMethods } from './actions.js';
import { actionPlanMethods, setAccountWithPlans } from './action-plans.js';
import { triggerMethods } from './action-triggers.js';
import { activeSessionMethods } from './active-sessions.js';
import { balanceMethods, balanceMethodsV2 } from './balances.js';
import { contextFor, type CgrContext } from './context.js';
import { costMethods } from './cost.js';
import { CgrError, jsonKind, notConvertible, UNAUTHORIZED_API, unsupportedFormat } from './errors.js';
import { BalanceStoreError } from '../balances/codes.js';
import { maxUsageMethods } from './max-usage.js';
import { cdrMethods } from './cdrs.js';
import { forceDisconnectMethods } from './force-disconnect.js';
import { writeJson } from './money.js';
import { refuseNul, type Obj } from './params.js';
import { sessionMethods } from './sessions.js';
import { tariffLoadMethods } from './tariff-load.js';
import { thresholdMethods } from './thresholds.js';
import { isUnavailable as isOutage } from '../infra/unavailable.js';

export type BaseContext = Parameters<typeof contextFor>[0];

type Method = (arg: Obj, c: CgrContext) => Promise<unknown>;

const METHODS: Record<string, Method> = {
  'APIerSv1.Ping': async () => 'Pong',
  ...accountMethods,
  ...accountMethodsV1,
  ...balanceMethods,
  ...balanceMethodsV2,
  ...costMethods,
  ...sessionMethods,
  ...activeSessionMethods,
  ...forceDisconnectMethods,
  ...tariffLoadMethods,
  ...actionMethods,
  ...triggerMethods,
  ...thresholdMethods,
  ...maxUsageMethods,
  ...cdrMethods,
  ...actionPlanMethods,
  // After accounts.ts's: SetAccount with ActionPlanIDs wraps its SetAccount.
  ...setAccountWithPlans,
};

/** The methods served, by their own names (the hostile tests call every one). */
export const METHOD_NAMES: readonly string[] = Object.keys(METHODS);

const CDR_READS = new Set(['CDRsV2.GetCDRs', 'APIerSv2.GetCDRs', 'APIerSv2.CountCDRs']);
const OPERATOR = new Set(['APIerSv1.LoadTariffPlanFromFolder']);
const NETWORK = new Set(['APIerSv1.GetCost', 'APIerSv1.GetMaxUsage', 'APIerSv1.GetMaxSessionTime']);

/**
 * Who may call what: provisioning is billing's, pricing the network's too, self-care reads its own,
 * the shared tariff the operator's.
 */
function allowed(role: Role, method: string): boolean {
  // The tariff is every tenant's: only the operator loads it, as POST /v1/tariff/reload.
  if (OPERATOR.has(method)) return role === 'operator';
  if (role === 'billing') return true;
  if (method === 'APIerSv1.Ping') return true;
  if (role === 'network') return NETWORK.has(method) || method.startsWith('SessionSv1.');
  // A customer's own account and CDRs (the methods check the account).
  if (role === 'selfcare')
    return method === 'APIerSv2.GetAccount' || method === 'APIerSv1.GetAccount' || CDR_READS.has(method);
  return false;
}

/**
 * The method a name serves: APIerSv2 embeds APIerSv1 (Go promotes its methods, so every v1 method
 * answers under v2 unless v2 has its own), and ApierV1/ApierV2 are the names of CGRateS before
 * v0.10, still served (clients such as the public Python tutorial call ApierV2.SetAccount).
 */
function canonical(name: string): string {
  // Own keys only: "constructor" or "toString" are no methods of the API.
  const has = (n: string) => Object.hasOwn(METHODS, n);
  if (has(name)) return name;
  const current = name.replace(/^ApierV([12])\./, 'APIerSv$1.');
  if (has(current)) return current;
  const v1 = current.replace(/^APIerSv2\./, 'APIerSv1.');
  return has(v1) ? v1 : name;
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
export function errorText(err: unknown, log: FastifyBaseLogger): string {
  if (err instanceof CgrError) return err.message;
  if (err instanceof BalanceStoreError && (err.code === 'INVALID_AMOUNT' || err.code === 'INVALID_REQUEST'))
    return notConvertible(err.message).message;
  // The store's own check of an id as a key part (balances/keys.ts), before anything is written.
  if (err instanceof Error && /^bad [a-z ]+ "/.test(err.message))
    return unsupportedFormat(err.message).message;
  log.error({ err }, 'jsonrpc method failed');
  return `SERVER_ERROR: ${(err as Error).message}`;
}

/** The key CGRateS's own dispatcher takes in a request: APIOpts["*apiKey"] (v0.11), ArgDispatcher.APIKey (v0.10). */
export function keyInRequest(body: Obj): string {
  const arg = Array.isArray(body.params) ? (body.params[0] as Obj | undefined) : undefined;
  if (!arg || jsonKind(arg) !== 'object') return '';
  const opts = arg.APIOpts as Obj | undefined;
  const disp = arg.ArgDispatcher as Obj | undefined;
  const key =
    (opts && jsonKind(opts) === 'object' ? opts['*apiKey'] : undefined) ??
    (disp && jsonKind(disp) === 'object' ? disp.APIKey : undefined);
  return typeof key === 'string' ? key : '';
}

export interface Answer {
  id: unknown;
  result: unknown;
  error: string | null;
}

/** Runs one request for a known caller; an outage is thrown (each transport answers it its way). */
export async function dispatch(
  base: BaseContext,
  principal: Principal,
  body: Obj,
  log: FastifyBaseLogger,
): Promise<Answer> {
  const id = body.id ?? null;
  const name = canonical(typeof body.method === 'string' ? body.method : '');
  try {
    const method = Object.hasOwn(METHODS, name) ? METHODS[name] : undefined;
    if (!method) throw new CgrError(methodError(name));
    const arg = argOf(body.params);
    if (!allowed(principal.role, name)) throw new CgrError(UNAUTHORIZED_API);
    refuseNul(arg);
    return { id, result: await method(arg, contextFor(base, principal, log)), error: null };
  } catch (err) {
    if (err instanceof CgrError || !isOutage(err)) return { id, result: null, error: errorText(err, log) };
    throw err;
  }
}

/** The answer as JSON text, money exact (or as strings). */
export function answerText(answer: Answer, decimalsAsStrings: boolean): string {
  return writeJson(answer, decimalsAsStrings);
}
