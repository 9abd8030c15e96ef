/** A client killed mid-batch, then the batch retried with the same operation ids: as if it ran once. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { redisEnv, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const ROUNDS = 200; // 4 debits per round

describe('crash and retry', () => {
  it('charges every operation exactly once', async () => {
    const store = createBalanceStore({ redis, keyPrefix: prefix });
    await store.createAccount(
      { tenant: 't', id: 'c', type: 'prepaid', currency: 'EUR', subject: 'c' },
      'create',
    );
    await store.addBalance('t', 'c', { id: 'main', unit: 'money', value: 1_000_000 }, 'add');

    const child = spawn('node', ['--import', 'tsx', 'tests/balances/crash-child.ts'], {
      env: { ...process.env, ...redisEnv(), CRASH_PREFIX: prefix, CRASH_COUNT: String(ROUNDS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let acknowledged = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        acknowledged += chunk.toString().split('\n').filter(Boolean).length;
        if (acknowledged >= 20 && !child.killed) child.kill('SIGKILL'); // mid-batch, requests in flight
      });
      child.on('exit', () => resolve());
    });
    const partial = (await store.getAccount('t', 'c'))!.balances[0]!.value;
    expect(partial).toBeLessThan(1_000_000);
    expect(partial).toBeGreaterThan(1_000_000 - 7 * 4 * ROUNDS);

    // The retry: the whole batch again, same ids.
    const results = [];
    for (let i = 0; i < ROUNDS * 4; i++)
      results.push(
        await store.debit('t', 'c', { opId: `batch-${i}`, charge: { unit: 'sms', units: 1, amountNano: 7 } }),
      );
    expect(results.every((r) => r.code === 'OK')).toBe(true);
    expect(results.filter((r) => r.replayed).length).toBe((1_000_000 - partial) / 7);
    expect((await store.getAccount('t', 'c'))!.balances[0]!.value).toBe(1_000_000 - 7 * 4 * ROUNDS);
    const debits = (await redis.xrange(`${prefix}{a:t:c}:outbox`, '-', '+')).filter(([, f]) =>
      f[f.indexOf('moves') + 1]!.includes(',debit,'),
    );
    expect(debits.length).toBe(4 * ROUNDS);
  });
});
