/**
 * `cli billing run` (billing.md E.5): one JSON summary line, exit 0 when done; a dry run writes
 * nothing; the same --at again finds nothing new; an --at in the future is refused (exit 3).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { databaseUrl, testPostgres } from '../../support/postgres.js';
import { redisEnv, testRedis } from '../../support/redis.js';
import { addAccount, addVat, applyFee, ensureAll, runDeps } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const deps = runDeps(pool, schema, redis, prefix, Date.now());

function cli(...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn('node', ['--import', 'tsx', 'src/cli/main.ts', ...args, '--progress-seconds', '0'], {
    env: {
      ...process.env,
      ...redisEnv(),
      DATABASE_URL: databaseUrl(),
      KEY_PREFIX: prefix,
      DB_SCHEMA: schema,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

const invoices = async () =>
  (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.invoices`)).rows[0].n as number;

describe('cli billing run', () => {
  it('prints a JSON summary, writes nothing on a dry run, and finds nothing new the second time', async () => {
    await ensureAll(pool, schema);
    await addVat(pool, schema);
    await addAccount(deps.balances, pool, schema, {
      id: 'c1',
      createdAt: '2026-11-01T00:00:00Z',
      taxProfile: 'uk',
    });
    await applyFee(deps.balances, pool, schema, 'c1', 'fee:c1', 15_000_000_000);

    const dry = await cli('billing', 'run', '--at', '2026-12-01T00:00:00Z', '--dry-run');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({
      status: 'done',
      dryRun: true,
      counters: { drafted: 1, periodsClosed: 1 },
    });
    expect(await invoices()).toBe(0);

    const run = await cli('billing', 'run', '--at', '2026-12-01T00:00:00Z');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ status: 'done', counters: { drafted: 1, finalized: 1 } });
    const again = await cli('billing', 'run', '--at', '2026-12-01T00:00:00Z');
    expect(JSON.parse(again.out)).toMatchObject({ status: 'done', counters: { drafted: 0, finalized: 0 } });
    expect(await invoices()).toBe(1);

    const future = await cli('billing', 'run', '--at', '2999-01-01T00:00:00Z');
    expect(future.code).toBe(3);
    expect(JSON.parse(future.out)).toMatchObject({ status: 'refused', code: 'AS_OF_IN_FUTURE' });
  }, 120_000);
});
