/**
 * The balance scripts as one Redis function library (Redis >= 7): common.lua and every verb's file,
 * each verb a function named with the library's version (`debit_1a2b3c4d`, the start of the
 * source's SHA-1), called with FCALL. A library is loaded once per server, so a call pays for its
 * own work only (an EVAL script would define all of common.lua's functions again on every call: a
 * fifth of a charging step here). It is loaded on first use and again whenever a server answers
 * that it does not know it (a restart without persistence, a new Cluster node); any change to a
 * script is a new version, so engines of two versions can share a server.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

const VERBS = [
  'debit',
  'credit',
  'snapshot',
  'balance-admin',
  'account-admin',
  'subscription-claim',
  'step',
  'cdr-charge',
  'cdr-revert',
  'bundle-renew',
] as const;
export type Verb = (typeof VERBS)[number];

function source(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

let cached: { source: string; version: string } | undefined;

/** The library's source (common.lua, then each verb's file as a registered function) and version. */
function library(): { source: string; version: string } {
  if (!cached) {
    const body = [source('common'), ...VERBS.map((v) => `--verb ${v}\n${source(v)}`)].join('\n');
    const version = createHash('sha1').update(body).digest('hex').slice(0, 8);
    const name = (v: Verb) => `${v.replaceAll('-', '_')}_${version}`;
    cached = {
      version,
      source: [
        `#!lua name=ocs_${version}`,
        source('common'),
        ...VERBS.map(
          (v) =>
            `redis.register_function('${name(v)}', function(keys, argv)\nbegin(keys, argv)\n${source(v)}\nend)`,
        ),
      ].join('\n'),
    };
  }
  return cached;
}

export function functionName(verb: Verb): string {
  return `${verb.replaceAll('-', '_')}_${library().version}`;
}

function librarySource(): string {
  return library().source;
}

export function libraryName(): string {
  return `ocs_${library().version}`;
}

/** Loads the library on a server (every master of a Cluster). */
export async function loadLibrary(client: Redis | Cluster): Promise<void> {
  const nodes =
    'isCluster' in client && client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(nodes.map((n) => n.call('FUNCTION', 'LOAD', 'REPLACE', librarySource())));
}

const loading = new WeakMap<object, Promise<void>>();

/** Calls a verb with its keys and ARGV; loads the library first if the server does not have it. */
export async function runScript(
  client: Redis | Cluster,
  verb: Verb,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await client.fcall(functionName(verb), keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !/function not found/i.test(err.message)) throw err;
    let p = loading.get(client);
    if (!p) {
      p = loadLibrary(client).finally(() => loading.delete(client));
      loading.set(client, p);
    }
    await p;
    return client.fcall(functionName(verb), keys.length, ...keys, ...args);
  }
}
