/**
 * A throw-away Redis Cluster with replicas for the failover tests (scripts/start-redis-cluster.sh,
 * REPLICAS=1: 3 masters, 3 replicas), the engines on it as operators run them, and what the tests
 * do to it: find the master (and its replica) of an account's slot, stop or kill a node.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keySlot } from '../../src/infra/key-slot.js';
import { tagOf } from '../../src/balances/keys.js';
import { databaseUrl } from '../support/postgres.js';
import { startEngine, type EngineProcess } from './engine-process.js';

export interface TestCluster {
  base: number;
  dir: string;
  /** Every node's pid file is DIR/PORT/redis.pid. */
  pid(port: number): number;
  /** The master serving `slot` now and its replicas, as a node that answers says. */
  ownerOf(slot: number): { master: number; replicas: number[] };
  stop(): void;
}

export function startTestCluster(base: number, dir: string): TestCluster {
  execFileSync('bash', ['scripts/start-redis-cluster.sh', String(base), dir], {
    stdio: 'pipe',
    env: { ...process.env, REPLICAS: '1' },
  });
  const ports = Array.from({ length: 6 }, (_, i) => base + i);
  return {
    base,
    dir,
    pid: (port) => Number(readFileSync(join(dir, String(port), 'redis.pid'), 'utf8')),
    ownerOf(slot) {
      for (const port of ports) {
        let nodes: string;
        try {
          nodes = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'nodes'], {
            stdio: 'pipe',
            timeout: 2000,
          }).toString();
        } catch {
          continue; // that node is down: ask another
        }
        const lines = nodes
          .trim()
          .split('\n')
          .map((l) => l.split(' '));
        const master = lines.find(
          (l) =>
            /master/.test(l[2]!) &&
            !/fail/.test(l[2]!) &&
            l.slice(8).some((r) => {
              const [lo, hi] = r.split('-').map(Number);
              return slot >= lo! && slot <= (hi ?? lo!);
            }),
        );
        if (!master) continue;
        const portOf = (l: string[]) => Number(l[1]!.split('@')[0]!.split(':')[1]);
        const replicas = lines.filter((l) => l[3] === master[0] && !/fail/.test(l[2]!)).map(portOf);
        return { master: portOf(master), replicas };
      }
      throw new Error(`no node of the Cluster at ${base} names a master for slot ${slot}`);
    },
    stop: () => execFileSync('bash', ['scripts/stop-redis-cluster.sh', dir]),
  };
}

/** The slot of an account's keys (acme tenant, no shared group). */
export function accountSlot(id: string, tenant = 'acme'): number {
  return keySlot(tagOf(tenant, id, null));
}

/** An engine process on the Cluster, with the demo keys, its own key prefix and schema. */
export function engineOn(
  c: TestCluster,
  env: { schema: string; prefix: string; dataDir: string; [k: string]: string },
): Promise<EngineProcess> {
  const { schema, prefix, dataDir, ...rest } = env;
  return startEngine({
    REDIS_CLUSTER_NODES: Array.from({ length: 6 }, (_, i) => `127.0.0.1:${c.base + i}`).join(','),
    DATABASE_URL: databaseUrl(),
    DB_SCHEMA: schema,
    KEY_PREFIX: prefix,
    DATA_DIR: dataDir,
    LOCAL_REDIS_PORT: '0',
    ...rest,
  });
}

export async function stopEngine(e: EngineProcess): Promise<void> {
  if (e.child.exitCode !== null || e.child.signalCode !== null) return;
  e.child.kill('SIGTERM');
  const timer = setTimeout(() => e.child.kill('SIGKILL'), 15_000);
  await e.exited;
  clearTimeout(timer);
}

export interface Answer {
  status: number;
  body: string;
  json: Record<string, unknown>;
  headers: Headers;
}

/** One API call, never longer than `ms` (a hang is an answer: status 0). */
export async function call(
  e: EngineProcess,
  method: string,
  path: string,
  auth: string,
  body?: object,
  ms = 15_000,
): Promise<Answer> {
  try {
    const r = await fetch(`${e.baseUrl}${path}`, {
      method,
      headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(ms),
    });
    const text = await r.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = {};
    }
    return { status: r.status, body: text, json, headers: r.headers };
  } catch (err) {
    return { status: 0, body: String(err), json: {}, headers: new Headers() };
  }
}

export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}
