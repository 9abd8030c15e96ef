/**
 * Where balances live: a Redis Cluster if one is configured (REDIS_CLUSTER_NODES or a
 * redis+cluster:// REDIS_URL: docs/SCALE-OUT.md); else REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379; else a
 * private `redis-server` this process starts on a unix socket under DATA_DIR (AOF on, everysec,
 * noeviction: balances must never be evicted). Says what it used.
 *
 * Every client fails fast and reconnects for ever (`failFastOptions`): while Redis is away a
 * command fails at once, so a request is answered 503 instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig } from '../config.js';

/** The engine's Redis: one server, or a Cluster (every key a script touches shares a hash tag). */
export type RedisClient = Redis | Cluster;

export function isCluster(redis: RedisClient): redis is Cluster {
  return 'isCluster' in redis && redis.isCluster;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * How the engine's clients talk to Redis. A command never waits for a connection (no offline
 * queue) nor through a reconnect (no retries, nothing sent again: a charging step whose answer was
 * lost is asked again by its caller with the same id, and replays), and never waits longer than
 * `commandTimeoutMs` for an answer (a hung server). The client reconnects by itself, every second
 * at most, for ever.
 */
export function failFastOptions(commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    enableAutoPipelining: true,
  };
}

/**
 * The same for a client that starts working before it has connected (a CDR worker's): its commands
 * wait for the connection, but no longer than a command may wait anyway.
 */
export function boundedOptions(commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): RedisOptions {
  return { ...failFastOptions(commandTimeoutMs), enableOfflineQueue: true };
}

/**
 * The same for a Cluster: a command fails at once while the Cluster has no slot map (no offline
 * queue), and never waits longer than `commandTimeoutMs` on a node. A command whose slot moves (a
 * failover: MOVED, ASK, TRYAGAIN, CLUSTERDOWN) is followed to the new master a few times, 100 ms
 * apart; the slot map is read again every 5 s and on every redirection. (ioredis itself does not
 * reconnect a lost node: it drops it and waits for the slot map to name its successor.) The whole
 * Cluster lost is reconnected every second at most, for ever.
 */
export function clusterOptions(
  c: Omit<RedisClusterConfig, 'nodes'>,
  commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
): ClusterOptions {
  return {
    redisOptions: {
      ...failFastOptions(commandTimeoutMs),
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      ...(c.tls ? { tls: {} } : {}),
    },
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    clusterRetryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 5000,
    // With TLS the certificate names the host as configured: connect by that name, not a resolved address.
    ...(c.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
}

/** Resolves once the client is ready; fails (and closes it) if it is not within `ms`. */
export async function whenReady(redis: RedisClient, ms: number, what: string): Promise<void> {
  if (redis.status === 'ready') return;
  let last = '';
  const noteError = (err: Error) => (last = err.message);
  redis.on('error', noteError);
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        redis.disconnect();
        // An outage (isUnavailable): the CLI says "run it again" with exit code 3, not a bug's 1.
        const err = new Error(`${what} did not answer within ${ms} ms${last ? `: ${last}` : ''}`);
        fail(Object.assign(err, { code: 'ETIMEDOUT' }));
      }, ms);
      const onReady = () => {
        clearTimeout(timer);
        ok();
      };
      redis.once('ready', onReady);
    });
  } finally {
    redis.off('error', noteError);
  }
}

/**
 * Reports a lost connection once per outage, not once per reconnect attempt, and its end; without
 * a listener ioredis would print every attempt.
 */
function watchOutages(redis: RedisClient, say: (line: string) => void): void {
  let down = false;
  const onError = (err: Error) => {
    if (down) return;
    down = true;
    say(`redis: ${err.message}; requests are answered 503 until it is back`);
  };
  const onBack = () => {
    if (!down) return;
    down = false;
    say('redis: answering again');
  };
  redis.on('error', onError);
  redis.on('ready', onBack);
  if (isCluster(redis)) {
    // Said once per node until it answers again (the client tries it again while the slot map
    // still names it).
    const lost = new Set<string>();
    redis.on('+node', (node: Redis) =>
      node.once('ready', () => lost.delete(`${node.options.host}:${node.options.port}`)),
    );
    // A node lost while the Cluster is up is dropped, not reconnected: its slots fail (503) until
    // its replica takes them over and the slot map is read again.
    redis.on('-node', (node: Redis) => {
      if (redis.status !== 'ready') return; // stopping, or the whole Cluster is away (said above)
      const where = `${node.options.host}:${node.options.port}`;
      if (lost.has(where)) return;
      lost.add(where);
      say(`redis: lost Cluster node ${where}; its slots answer 503 until a replica serves them`);
    });
  }
}

export interface RedisHandle {
  redis: RedisClient;
  description: string;
  stop(): Promise<void>;
}

/**
 * Readiness: one server answers PING. A Cluster is ready when every master the client knows says
 * all 16384 slots are served (cluster_state:ok), and the master of every slot, as the Cluster's
 * slot map names it, answers PING: a master that died is not ready at once, before the Cluster
 * has noticed (cluster-node-timeout), until its replica serves its slots; a Cluster that lost its
 * majority is not ready either.
 */
export async function checkRedisReady(redis: RedisClient): Promise<void> {
  if (!isCluster(redis)) {
    await redis.ping();
    return;
  }
  const masters = redis.nodes('master');
  if (masters.length === 0) throw new Error('no Cluster master connected');
  const where = (n: Redis) => `${n.options.host}:${n.options.port}`;
  await Promise.all(
    masters.map(async (node) => {
      const info = String(await node.call('CLUSTER', 'INFO'));
      const state = /cluster_state:(\w+)/.exec(info)?.[1];
      const slots = /cluster_slots_ok:(\d+)/.exec(info)?.[1];
      if (state !== 'ok' || slots !== '16384')
        throw new Error(`${where(node)}: cluster_state ${state}, ${slots ?? '?'} of 16384 slots served`);
    }),
  );
  const byAddress = new Map(masters.map((n) => [where(n), n]));
  const owners = new Set(
    ((await masters[0]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]).map(
      ([, , [host, port]]) => `${host}:${port}`,
    ),
  );
  await Promise.all(
    [...owners].map(async (owner) => {
      const node = byAddress.get(owner);
      if (!node) throw new Error(`the master at ${owner} is not connected`);
      await node.ping();
    }),
  );
}

async function answers(client: Redis): Promise<boolean> {
  try {
    await client.ping();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts redis-server on a unix socket in `dir`; resolves once it accepts connections. `extraArgs`
 * override the defaults (a test asks for `--appendfsync always`).
 */
export async function startPrivateRedis(
  dir: string,
  binary = process.env.REDIS_SERVER ?? 'redis-server',
  extraArgs: string[] = [],
): Promise<{ socket: string; child: ChildProcess }> {
  mkdirSync(dir, { recursive: true });
  const socket = resolve(dir, 'redis.sock');
  if (socket.length > 100)
    throw new Error(`unix socket path too long for redis: ${socket}; set DATA_DIR to a shorter path`);
  const child = spawn(
    binary,
    [
      '--port',
      '0',
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--dir',
      resolve(dir),
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      ...extraArgs,
    ],
    // Its own process group: a terminal's Ctrl-C reaches the engine only, which drains to PostgreSQL
    // before it stops this server.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  await new Promise<void>((ok, fail) => {
    let out = '';
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ENOENT'
          ? new Error(
              `${binary} not found: install it (apt-get install -y redis-server, or brew install redis) or set REDIS_URL`,
            )
          : err,
      ),
    );
    child.once('exit', (code) =>
      fail(new Error(`redis-server exited with code ${code}: ${out.slice(-500)}`)),
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/ready to accept connections/i.test(out)) ok();
    });
  });
  child.removeAllListeners('exit');
  return { socket, child };
}

/** A Cluster client, once it has its slot map; says when it loses and gets back a node. */
async function connectCluster(
  c: RedisClusterConfig,
  commandTimeoutMs: number | undefined,
  say: (line: string) => void,
): Promise<RedisHandle> {
  const redis = new Cluster(c.nodes, clusterOptions(c, commandTimeoutMs));
  const where = c.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  await whenReady(redis, 10_000, `the Redis Cluster at ${where}`);
  watchOutages(redis, say);
  return {
    redis,
    description: `Redis Cluster at ${where}${c.tls ? ' (TLS)' : ''}: ${redis.nodes('master').length} masters`,
    stop: async () => void (await redis.quit().catch(() => undefined)),
  };
}

export async function connectRedis(opts: {
  /** A Redis Cluster: used whatever else is set. */
  cluster?: RedisClusterConfig;
  url?: string;
  dataDir: string;
  /** Where a Redis already running is looked for (default 6379); 0: do not look. */
  localPort?: number;
  commandTimeoutMs?: number;
  /** Where connection losses are told (default: stderr). */
  say?: (line: string) => void;
}): Promise<RedisHandle> {
  const quit = (r: Redis) => async () => void (await r.quit().catch(() => undefined));
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (opts.cluster) return connectCluster(opts.cluster, opts.commandTimeoutMs, say);
  const client = async (target: string | RedisOptions, what: string) => {
    const options = failFastOptions(opts.commandTimeoutMs);
    const redis =
      typeof target === 'string' ? new Redis(target, options) : new Redis({ ...options, ...target });
    await whenReady(redis, 10_000, what);
    watchOutages(redis, say);
    return redis;
  };
  if (opts.url) {
    const redis = await client(opts.url, 'Redis at REDIS_URL');
    return {
      redis,
      description: `Redis at ${opts.url.replace(/\/\/[^@]*@/, '//***@')} (REDIS_URL)`,
      stop: quit(redis),
    };
  }
  const port = opts.localPort ?? 6379;
  if (port !== 0 && (await answersAt(port))) {
    const redis = await client({ host: '127.0.0.1', port }, `Redis at 127.0.0.1:${port}`);
    return { redis, description: `Redis already running at 127.0.0.1:${port}`, stop: quit(redis) };
  }
  const { socket, child } = await startPrivateRedis(resolve(opts.dataDir, 'redis'));
  const redis = await client({ path: socket }, 'the private redis-server');
  return {
    redis,
    description: `a private redis-server this engine started (unix socket ${socket}, AOF on)`,
    async stop() {
      await redis.quit().catch(() => undefined);
      child.kill('SIGTERM'); // a clean shutdown fsyncs the AOF
      await new Promise((ok) => child.once('exit', ok));
    },
  };
}

async function answersAt(port: number): Promise<boolean> {
  const local = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  local.on('error', () => {}); // "nothing listens there" is an answer, not an error
  const yes = await answers(local);
  local.disconnect();
  return yes;
}
