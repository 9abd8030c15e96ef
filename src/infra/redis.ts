/**
 * Where balances live: REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379; else a
 * private `redis-server` this process starts on a unix socket under DATA_DIR (AOF on, everysec,
 * noeviction: balances must never be evicted). Says what it used.
 *
 * Every client fails fast and reconnects for ever (`failFastOptions`): while Redis is away a
 * command fails at once, so a request is answered 503 instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

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

/** Resolves once the client is ready; fails (and closes it) if it is not within `ms`. */
export async function whenReady(redis: Redis, ms: number, what: string): Promise<void> {
  if (redis.status === 'ready') return;
  let last = '';
  const noteError = (err: Error) => (last = err.message);
  redis.on('error', noteError);
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        redis.disconnect();
        fail(new Error(`${what} did not answer within ${ms} ms${last ? `: ${last}` : ''}`));
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
function watchOutages(redis: Redis, say: (line: string) => void): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    say(`redis: ${err.message}; requests are answered 503 until it is back`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    say('redis: answering again');
  });
}

export interface RedisHandle {
  redis: Redis;
  description: string;
  stop(): Promise<void>;
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

export async function connectRedis(opts: {
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
