/**
 * Loads the Lua scripts (each prefixed with common.lua) and registers them on an ioredis client
 * once, as versioned commands (`debit:v1`), so EVALSHA is used and a changed script gets a new name.
 */
import { readFileSync } from 'node:fs';
import type { Redis, Cluster } from 'ioredis';

const VERSION = 'v1';
const VERBS = [
  'debit',
  'credit',
  'reserve',
  'commit',
  'release',
  'expire',
  'snapshot',
  'balance-admin',
  'account-admin',
] as const;
export type Verb = (typeof VERBS)[number];

/** Every script takes the same seven keys (see common.lua). */
export const KEY_COUNT = 7;

function source(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

let cached: Map<Verb, string> | undefined;

export function scriptSources(): Map<Verb, string> {
  if (!cached) {
    const common = source('common');
    cached = new Map(VERBS.map((v) => [v, `${common}\n${source(v)}`]));
  }
  return cached;
}

export type ScriptClient = (Redis | Cluster) & { [name: string]: unknown };

export function commandName(verb: Verb): string {
  return `${verb}:${VERSION}`;
}

export function registerScripts(client: Redis | Cluster): void {
  for (const [verb, lua] of scriptSources()) {
    if (!(commandName(verb) in client))
      client.defineCommand(commandName(verb), { numberOfKeys: KEY_COUNT, lua });
  }
}

/** Calls a registered script; args are the 7 keys then ARGV. */
export function runScript(
  client: Redis | Cluster,
  verb: Verb,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  const fn = (client as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[
    commandName(verb)
  ];
  if (!fn) throw new Error(`script ${verb} is not registered`);
  return fn.call(client, ...keys, ...args);
}
