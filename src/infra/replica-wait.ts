/**
 * Writes acknowledged only once a replica has them (docs/BALANCES.md, "What a failover can lose").
 * Redis replicates asynchronously: a master that dies may take its last writes with it, and its
 * promoted replica serves the slots without them. `WAIT replicas timeout`, sent right after the
 * write on the same connection, answers once that many replicas have everything the connection
 * wrote, or at the timeout with how many do.
 *
 * WAIT blocks the connection it is sent on, so these writes go through a client of their own (a
 * duplicate of the engine's, made on first need): a slow acknowledgement never holds a charging
 * request queued behind it on the shared connection.
 *
 * How many replicas are waited for: at most `replicas`, and no more than the master of the key
 * has, as the Cluster's slot map lists them (a standalone Redis: as `ROLE` lists them). Only a
 * listed replica can be promoted; a master with none cannot fail over (its slots wait for it to
 * restart, from its own AOF), so there is nothing to wait for and the write goes through the
 * engine's client as any other: a single Redis without replicas pays nothing.
 */
import type { ChainableCommander } from 'ioredis';
import { keySlot } from './key-slot.js';
import { isCluster, type RedisClient } from './redis.js';

export interface ReplicaWaitOptions {
  /** How many replicas must have a write before it is acknowledged (0: never wait). */
  replicas: number;
  /** How long WAIT may take; below the client's command timeout. */
  timeoutMs: number;
}

/**
 * The write is on its master, not yet on a replica. Its `code` is what `isUnavailable` reads as a
 * dependency that did not answer in time: the API answers 503 with Retry-After, a job waits and
 * tries again. The retry, with the same operation id, replays the write and waits again.
 */
export class NotReplicatedError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(acked: number, wanted: number, timeoutMs: number) {
    super(`the write is on its master but on ${acked} of ${wanted} replica(s) after ${timeoutMs} ms`);
  }
}

/** A standalone Redis's replicas, read again after this long. */
const ROLE_EVERY_MS = 5000;
/** Sends again after a MOVED/ASK (pauses 0, 100, 200, 400 ms: under a second, inside any deadline). */
const MOVED_RESENDS = 4;
/** How long a waited write waits for its client to connect (as the engine's client at start). */
const CONNECT_MS = 10_000;

export type ReplicaWait = ReturnType<typeof createReplicaWait>;

export function createReplicaWait(redis: RedisClient, opts: ReplicaWaitOptions) {
  let own: RedisClient | undefined;
  let role: { at: number; replicas: Promise<number> } | undefined;

  /** The replicas that could take over the master holding `key`. */
  function replicasOf(key: string): Promise<number> {
    if (isCluster(redis)) return Promise.resolve(Math.max(0, (redis.slots[keySlot(key)]?.length ?? 1) - 1));
    const now = Date.now();
    if (!role || now - role.at > ROLE_EVERY_MS) {
      const replicas = (redis.call('ROLE') as Promise<unknown[]>).then((r) =>
        r[0] === 'master' && Array.isArray(r[2]) ? r[2].length : 0,
      );
      role = { at: now, replicas: replicas.catch(() => 0) };
    }
    return role.replicas;
  }

  /** The client for waited writes: made once, closed when the engine's client ends. */
  async function client(): Promise<RedisClient> {
    if (!own) {
      const c: RedisClient = isCluster(redis) ? redis.duplicate() : redis.duplicate();
      c.on('error', () => undefined); // the engine's client already reports outages
      redis.once('end', () => c.disconnect());
      own = c;
    }
    if (own.status !== 'ready') {
      const c = own;
      await new Promise<void>((ok, fail) => {
        const ready = () => (clearTimeout(timer), ok());
        const timer = setTimeout(() => {
          c.off('ready', ready);
          fail(new Error('connection is closed'));
        }, CONNECT_MS);
        c.once('ready', ready);
      });
    }
    return own;
  }

  /**
   * Sends the pipeline. On a Cluster whose slot moved (a failover), the node answers MOVED or ASK
   * to the keyed commands and runs nothing of them; ioredis sends a pipeline again only when every
   * command failed alike, which WAIT never does, so this sends it again itself once the slot map
   * is read again, four times at most with a growing pause (the nodes learn a move by gossip, so
   * the first map read may still be the old one), then answers TRYAGAIN (an outage: 503, retried
   * with the same id).
   */
  async function send(via: RedisClient, build: () => ChainableCommander): Promise<[Error | null, unknown][]> {
    for (let attempt = 0; ; attempt++) {
      const results = (await build().exec()) ?? [];
      if (!results.some(([err]) => err && /^(MOVED|ASK) /.test(err.message))) return results;
      if (!isCluster(via) || attempt === MOVED_RESENDS)
        throw new Error('TRYAGAIN the slot moved while the write was sent; retry with the same id');
      if (attempt > 0) await new Promise((ok) => setTimeout(ok, 50 * 2 ** attempt));
      await new Promise<void>((ok) => via.refreshSlotsCache(() => ok()));
    }
  }

  return {
    /**
     * How many replicas a write to `key` waits for: 0 when its master has none (or none are asked
     * for), and the write may then go as any other command (auto-pipelined with its neighbours).
     */
    async replicasFor(key: string): Promise<number> {
      return Math.min(opts.replicas, await replicasOf(key));
    },

    /**
     * Sends `commands` (every key in `key`'s slot) and WAIT in one pipeline to the master of that
     * slot; resolves with each command's [error, result]. `matters(results)` says whether the
     * acknowledgement matters (a refusal wrote nothing: no need to wait for it); if it does and too
     * few replicas have the write, throws NotReplicatedError.
     */
    async write(
      key: string,
      commands: (p: ChainableCommander) => ChainableCommander,
      matters: (results: [Error | null, unknown][]) => boolean,
    ): Promise<[Error | null, unknown][]> {
      const wanted = Math.min(opts.replicas, await replicasOf(key));
      const via = wanted > 0 ? await client() : redis;
      const results = await send(via, () => {
        const p = commands(via.pipeline());
        return wanted > 0 ? p.wait(wanted, opts.timeoutMs) : p;
      });
      if (wanted === 0) return results;
      const [waitErr, acked] = results.pop()!;
      if (waitErr) throw waitErr;
      if (Number(acked) < wanted && matters(results))
        throw new NotReplicatedError(Number(acked), wanted, opts.timeoutMs);
      return results;
    },
  };
}
