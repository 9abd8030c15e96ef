/**
 * Where balances live: REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379; else a
 * private `redis-server` this process starts on a unix socket under DATA_DIR (AOF on, everysec,
 * noeviction: balances must never be evicted). Says what it used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';

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

/** Starts redis-server on a unix socket in `dir`; resolves once it accepts connections. */
export async function startPrivateRedis(
  dir: string,
  binary = process.env.REDIS_SERVER ?? 'redis-server',
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
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
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
  localPort?: number;
}): Promise<RedisHandle> {
  const quit = (r: Redis) => async () => void (await r.quit().catch(() => undefined));
  if (opts.url) {
    const redis = new Redis(opts.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
    await redis.ping();
    return {
      redis,
      description: `Redis at ${opts.url.replace(/\/\/[^@]*@/, '//***@')} (REDIS_URL)`,
      stop: quit(redis),
    };
  }
  const port = opts.localPort ?? 6379;
  const local = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  local.on('error', () => {}); // "nothing listens there" is an answer, not an error
  if (await answers(local)) {
    await local.quit();
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 3, enableAutoPipelining: true });
    return { redis, description: `Redis already running at 127.0.0.1:${port}`, stop: quit(redis) };
  }
  local.disconnect();
  const { socket, child } = await startPrivateRedis(resolve(opts.dataDir, 'redis'));
  const redis = new Redis({ path: socket, maxRetriesPerRequest: 3, enableAutoPipelining: true });
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
