/**
 * A customer tops up with a voucher on the self-care page, in a real headless browser (the
 * system's Chromium, as tests/usage/selfcare-page.test.ts): the form answers the amount added and
 * the balance shown grows; a wrong PIN answers the engine's refusal. Skipped, saying why, only when
 * no Chromium is installed (CHROMIUM_PATH or /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { ensureUsageSchema } from '../../src/usage/schema.js';
import { ensureVouchersSchema } from '../../src/vouchers/schema.js';
import { ensureMoneyInSchemas, harness } from '../payments/support.js';
import { batchWithPins, newAccount, TEST_KEYS } from './support.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM) console.warn('self-care voucher test SKIPPED: no Chromium (apt-get install -y chromium)');

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
let base = '';
let browser: Browser | undefined;
let pin = '';

describe.skipIf(!CHROMIUM)('a voucher on the self-care page', () => {
  beforeAll(async () => {
    await ensureRecordsSchema(pool, schema);
    await ensureCdrSchema(pool, schema);
    await ensureMoneyInSchemas(pool, schema, [
      () => ensureUsageSchema(pool, schema),
      () => ensureVouchersSchema(pool, schema),
    ]);
    // The page reads the usage views too; plans and invoices are left out.
    const h = await harness({
      redis,
      prefix,
      vouchers: { pool, schema, keys: TEST_KEYS },
      usage: { pool, schema },
    });
    app = h.app;
    await newAccount(h.balances, 'acme', 'alice', { type: 'prepaid', mainNano: 2_500_000_000 });
    const { pins } = await batchWithPins(h, 'acme', {
      reference: 'page',
      count: 1,
      value: { amount: '10.00', currency: 'GBP' },
    });
    pin = pins[0]![1];
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('adds the money and shows it; a wrong PIN gets the refusal', async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/selfcare`);
    await page.evaluate(() => sessionStorage.setItem('ocs-selfcare-key', 'acme-alice'));
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    expect(await page.textContent('#balances tbody')).toContain('2.5 GBP');
    const submit = async (p: string) => {
      await page.fill('#pin', p);
      await page.click('#voucher-form button[type=submit]');
      await page.waitForFunction(() => {
        const t = document.getElementById('voucher-result')?.textContent ?? '';
        return t !== '' && t !== 'Redeeming…';
      });
      return page.textContent('#voucher-result');
    };
    expect(await submit('0000 0000 0000 0000')).toBe('This PIN cannot be redeemed: check it and try again.');
    expect(await page.getAttribute('#voucher-result', 'class')).toBe('error');
    expect(await submit(`${pin.slice(0, 4)} ${pin.slice(4, 8)} ${pin.slice(8, 12)} ${pin.slice(12)}`)).toBe(
      'Voucher redeemed: 10.00 GBP added.',
    );
    await page.waitForFunction(() =>
      document.querySelector('#balances tbody')?.textContent?.includes('12.5 GBP'),
    );
    await page.close();
  });
});
