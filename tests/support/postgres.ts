/**
 * Real PostgreSQL for tests: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, a random
 * schema per test file, dropped afterwards. A missing server fails the test.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';

export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

export function testPostgres(): { pool: pg.Pool; schema: string } {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  pool.on('error', () => {}); // an idle connection dropped by the server is replaced on the next query
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });
  return { pool, schema };
}
