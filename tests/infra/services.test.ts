/**
 * The main job's storage defaults: a Redis or PostgreSQL already listening is used; otherwise the
 * engine starts its own (a private redis-server on a unix socket, an embedded PostgreSQL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../src/infra/postgres.js';
import { connectRedis } from '../../src/infra/redis.js';
import { NOT_ON_CLUSTER, onCluster } from '../support/redis.js';

const dir = mkdtempSync(join('/tmp', 'ocs-infra-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLOSED_PORT = 1; // nothing listens there

describe('storage defaults', () => {
  it('uses the Redis already on 127.0.0.1:6379', async ({ skip }) => {
    skip(onCluster, NOT_ON_CLUSTER('this is the fallback to a plain Redis on 127.0.0.1:6379'));
    const h = await connectRedis({ dataDir: dir });
    expect(h.description).toContain('already running');
    await h.stop();
  });

  it('starts a private redis-server when none answers, with AOF on, and stops it', async () => {
    const h = await connectRedis({ dataDir: dir, localPort: CLOSED_PORT });
    expect(h.description).toContain('private redis-server');
    await h.redis.set('k', 'v');
    expect(await h.redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    await h.stop();
  });

  it('uses the PostgreSQL already on 127.0.0.1:5432', async () => {
    const h = await connectPostgres({ dataDir: dir });
    expect(h.description).toContain('already running');
    expect((await h.pool.query('select current_database() as db')).rows[0].db).toBe('ocs');
    await h.stop();
  });

  it('starts an embedded PostgreSQL when none answers', async () => {
    const pgDir = join(tmpdir(), `ocs-pg-${process.pid}`);
    const h = await connectPostgres({
      dataDir: pgDir,
      localPort: CLOSED_PORT,
      embeddedPort: 5400 + (process.pid % 90),
    });
    try {
      expect(h.description).toContain('embedded PostgreSQL');
      expect((await h.pool.query('select 1 + 1 as two')).rows[0].two).toBe(2);
    } finally {
      await h.stop();
      rmSync(pgDir, { recursive: true, force: true });
    }
  }, 120_000);
});
