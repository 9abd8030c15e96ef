/**
 * `network.json`, beside the tariff in its folder (either format): how the network's requests are
 * read before rating. Per tenant, ordered number rules; the service-context table over its defaults.
 * It lives with the tariff because the prefixes the rules produce are the tariff's: both load,
 * validate and reload together, and a bad rule keeps the last good tariff like a bad rate does.
 *
 *   { "numbers": { "cgrates.org": [ { "id": "intl", "match": "^00", "replace": "+" } ] },
 *     "serviceContexts": { "32270@3gpp.org": { "category": "mms", "tor": "sms" } } }
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkConfig } from '../rating/model.js';
import { numberRuleProblems, type NumberRule } from '../rating/number-format.js';
import { MAX_SERVICE_CONTEXTS, parseServiceKind, type ServiceKind } from '../rating/service-kinds.js';
import type { Problem } from './errors.js';

export const NETWORK_FILE = 'network.json';
export const MAX_NUMBER_TENANTS = 1024;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The folder's network.json, or nothing when it has none; every problem names where it is. */
export async function readNetworkFile(
  dir: string,
): Promise<{ network?: NetworkConfig; problems: Problem[] }> {
  let text: string;
  try {
    text = await readFile(join(dir, NETWORK_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { problems: [] };
    return { problems: [{ file: NETWORK_FILE, message: (e as Error).message }] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problems: [{ file: NETWORK_FILE, message: `not valid JSON: ${(e as Error).message}` }] };
  }
  return parseNetwork(json);
}

export function parseNetwork(json: unknown): { network?: NetworkConfig; problems: Problem[] } {
  const problems: Problem[] = [];
  const problem = (path: string, message: string) => problems.push({ file: NETWORK_FILE, path, message });
  if (!isObject(json)) return { problems: [{ file: NETWORK_FILE, message: 'must be a JSON object' }] };
  for (const k of Object.keys(json))
    if (k !== 'numbers' && k !== 'serviceContexts') problem(`/${k}`, `unknown field "${k}"`);
  const network: NetworkConfig = {};
  if (json.numbers !== undefined) {
    if (!isObject(json.numbers)) problem('/numbers', 'must be an object of tenant → rules');
    else if (Object.keys(json.numbers).length > MAX_NUMBER_TENANTS)
      problem('/numbers', `at most ${MAX_NUMBER_TENANTS} tenants`);
    else {
      for (const [tenant, rules] of Object.entries(json.numbers))
        for (const p of numberRuleProblems(tenant, rules)) problem(p.path, p.message);
      network.numbers = json.numbers as Record<string, NumberRule[]>;
    }
  }
  if (json.serviceContexts !== undefined) {
    const contexts = parseContexts(json.serviceContexts, problem);
    if (contexts) network.serviceContexts = contexts;
  }
  return problems.length ? { problems } : { network, problems };
}

function parseContexts(
  v: unknown,
  problem: (path: string, message: string) => void,
): Record<string, ServiceKind> | undefined {
  if (!isObject(v)) return (problem('/serviceContexts', 'must be an object of context id → kind'), undefined);
  const entries = Object.entries(v);
  if (entries.length > MAX_SERVICE_CONTEXTS)
    return (problem('/serviceContexts', `at most ${MAX_SERVICE_CONTEXTS} contexts`), undefined);
  const out: [string, ServiceKind][] = [];
  for (const [id, kind] of entries) {
    const parsed = id.length > 128 ? 'a context id has at most 128 characters' : parseServiceKind(kind);
    if (typeof parsed === 'string') problem(`/serviceContexts/${id}`, `context ${id}: ${parsed}`);
    else out.push([id, parsed]);
  }
  return Object.fromEntries(out); // defines every id as its own key, "__proto__" too
}
