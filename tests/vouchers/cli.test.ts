/**
 * `cli vouchers` as a process on the test's stores: generate once per reference (again: the same
 * batch, replayed), download the PINs once into a new file (a second download is refused GONE and
 * leaves no file), block a batch and one serial, and a PIN of the download redeems through the
 * services with the same key (WEBHOOK_SECRET_KEY) — refused while blocked.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { ensureEngineSchema } from '../../src/storage/schema.js';
import { voucherKeys } from '../../src/vouchers/keys.js';
import { redeemVoucher } from '../../src/vouchers/redeem.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { redisEnv, testRedis } from '../support/redis.js';
import { newAccount } from './support.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const KEY = randomBytes(32);
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const deps = {
  pool,
  schema,
  balances,
  redis,
  keyPrefix: prefix,
  keys: voucherKeys(KEY),
  now: Date.now,
};

function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('node', ['--import', 'tsx', 'src/cli/main.ts', 'vouchers', ...args], {
    env: {
      ...process.env,
      ...redisEnv(),
      DATABASE_URL: databaseUrl(),
      KEY_PREFIX: prefix,
      DB_SCHEMA: schema,
      WEBHOOK_SECRET_KEY: KEY.toString('hex'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

beforeAll(async () => {
  await ensureEngineSchema(pool, schema);
  await newAccount(balances, 'acme', 'vic', { type: 'prepaid' });
});

describe('cli vouchers', () => {
  it('generates once, downloads once, blocks, and its PINs redeem with the engine key', async () => {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const args = [
      'generate',
      '--reference',
      'cli-1',
      '--count',
      '3',
      '--amount',
      '5.00',
      '--currency',
      'GBP',
    ];
    const made = await cli(...args, '--expires', expires);
    expect(made.code).toBe(0);
    const batch = JSON.parse(made.out);
    expect(batch).toMatchObject({ status: 'active', count: 3, replayed: false });
    const again = await cli(...args, '--expires', expires);
    expect(JSON.parse(again.out)).toMatchObject({ batchId: batch.batchId, replayed: true });

    const file = join(tmpdir(), `pins-${randomBytes(4).toString('hex')}.csv`);
    const dl = await cli('download', batch.batchId, '--out', file);
    expect(dl.code).toBe(0);
    expect(JSON.parse(dl.out)).toEqual({ batchId: batch.batchId, file, vouchers: 3 });
    const pins = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(pins).toHaveLength(3);
    const file2 = `${file}.again`;
    const gone = await cli('download', batch.batchId, '--out', file2);
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.out)).toMatchObject({ status: 'refused', code: 'GONE' });
    expect(existsSync(file2)).toBe(false);

    const serial = await cli('block', pins[0]![0]!);
    expect(JSON.parse(serial.out)).toMatchObject({ serial: pins[0]![0], status: 'blocked' });
    await expect(
      redeemVoucher(deps, 'acme', 'vic', { pin: pins[0]![1]!, apiKey: 'k' }),
    ).rejects.toMatchObject({
      code: 'VOUCHER_INVALID',
    });
    expect(await redeemVoucher(deps, 'acme', 'vic', { pin: pins[1]![1]!, apiKey: 'k' })).toMatchObject({
      status: 'redeemed',
      amount: '5.00',
    });
    const whole = await cli('block', batch.batchId);
    expect(JSON.parse(whole.out)).toMatchObject({ batchId: batch.batchId, status: 'blocked' });
    await expect(
      redeemVoucher(deps, 'acme', 'vic', { pin: pins[2]![1]!, apiKey: 'k' }),
    ).rejects.toMatchObject({
      code: 'VOUCHER_INVALID',
    });
    expect((await cli('unblock', batch.batchId)).code).toBe(0);
    expect(await redeemVoucher(deps, 'acme', 'vic', { pin: pins[2]![1]!, apiKey: 'k' })).toMatchObject({
      status: 'redeemed',
    });
  });

  it('refuses a bad command line (exit 2) and a missing batch (exit 1), changing nothing', async () => {
    expect((await cli('generate', '--reference', 'x')).code).toBe(2);
    const missing = await cli('block', '00000000-0000-4000-8000-000000000000');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out)).toMatchObject({ status: 'refused', code: 'NOT_FOUND' });
  });
});
