/**
 * The self-care page in a real headless browser (the system's Chromium driven by playwright-core):
 * a customer signs in with their self-care key, sees their balance, the usage chart's bars on the
 * days they used the service, an invoice whose PDF downloads, and the voucher form's answer. Skipped,
 * saying why, only when no Chromium is installed (CHROMIUM_PATH or /usr/bin/chromium).
 */
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDocumentsSchema } from '../../src/billing/documents/schema.js';
import { finalizeInvoices } from '../../src/billing/documents/finalize.js';
import { createPdfRenderer } from '../../src/billing/documents/pdf-jobs.js';
import { ensureCdrSchema, ensurePartitions } from '../../src/cdr/store.js';
import type { ApiKey } from '../../src/config.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { rollupOnce } from '../../src/usage/rollup.js';
import { ensureUsageSchema } from '../../src/usage/schema.js';
import { addDraft, draftOf } from '../billing/documents/drafts.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM)
  console.warn(
    'self-care page test SKIPPED: no Chromium (apt-get install -y chromium, or set CHROMIUM_PATH)',
  );

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;
const usedDays = [today - 2 * DAY, today - 5 * DAY].map((ms) => new Date(ms).toISOString().slice(0, 10));
const keys: ApiKey[] = [
  { key: 'acme-billing', role: 'billing', tenant: 'acme' },
  { key: 'alice-key-1234', role: 'selfcare', tenant: 'acme', accountId: 'alice' },
];
let app: FastifyInstance;
let base = '';
let browser: Browser | undefined;
const pdf = createPdfRenderer({ pool, schema, threads: 1 });

describe.skipIf(!CHROMIUM)('the self-care page in a browser', () => {
  beforeAll(async () => {
    await ensureRecordsSchema(pool, schema);
    await ensureCdrSchema(pool, schema);
    await ensureDocumentsSchema(pool, schema);
    await ensureUsageSchema(pool, schema);
    const c = await pool.connect();
    await ensurePartitions(c, schema, [
      ...new Set([today, today - 5 * DAY].map((ms) => new Date(ms).toISOString().slice(0, 7))),
    ]);
    c.release();
    let balances;
    ({ app, balances } = await testApp({
      redis,
      prefix,
      keys,
      usage: { pool, schema, invoices: true },
      documents: { pool, schema, pdf },
    }));
    await balances.createAccount(
      { tenant: 'acme', id: 'alice', type: 'prepaid', currency: 'GBP', subject: 'alice', subscriptions: [] },
      'c',
    );
    await balances.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 12_345_000_000 }, 'm');
    await balances.addBalance('acme', 'alice', { id: 'data-pack', unit: 'data', value: 5_000_000 }, 'd');
    for (const [i, day] of usedDays.entries())
      await pool.query(
        `INSERT INTO ${schema}.rated_cdrs (cdr_id, tenant, account_id, subscriber, category, service, destination,
           answer_time, usage, rated_usage, cost_nano, currency, charged_nano, file_id, line)
         VALUES ($1, 'acme', 'alice', 's', 'call', 'voice', '+44', $2, 60, 60, $3, 'GBP', $3, 'f', $4)`,
        [`c${i}`, `${day}T10:00:00Z`, (i + 1) * 250_000_000, i],
      );
    await rollupOnce(pool, schema);
    const id = await addDraft(pool, schema, draftOf('acme', 'alice', 1));
    await finalizeInvoices({ pool, schema }, 'acme', [id], new Date());
    await pdf.renderPending();
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await pdf.close();
  });

  it('signs in with the self-care key and shows balances, the usage chart and invoices', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(`${base}/selfcare`);
    await page.fill('#key', 'alice-key-1234');
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#account:not([hidden])');
    expect(await page.textContent('#balances tbody')).toContain('12.345 GBP');
    expect(await page.textContent('#bundles tbody')).toContain('data-pack');
    const bars = await page.$$eval('#chart svg rect.bar', (rs) => rs.map((r) => r.getAttribute('data-day')));
    expect(bars.sort()).toEqual([...usedDays].sort());
    const heights = await page.$$eval('#chart svg rect.bar', (rs) =>
      rs.map((r) => Number(r.getAttribute('height'))),
    );
    expect(heights.every((h) => h > 0)).toBe(true);
    const rows = await page.$$eval('#invoices tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('GBP');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#invoices button.pdf')]);
    expect(download.suggestedFilename()).toMatch(/\.pdf$/);
    // The key stays in this tab's sessionStorage: a reload keeps the customer signed in.
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('answers the voucher form (or says redemption is not available on this engine)', async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/selfcare`);
    await page.evaluate(() => sessionStorage.setItem('ocs-selfcare-key', 'alice-key-1234'));
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    await page.fill('#pin', '1234567812345678');
    await page.click('#voucher-form button[type=submit]');
    await page.waitForFunction(() => {
      const t = document.getElementById('voucher-result')?.textContent ?? '';
      return t !== '' && t !== 'Redeeming…';
    });
    const said = await page.textContent('#voucher-result');
    const routed = app.routeTable.some(
      (r) => r.method === 'POST' && r.url === '/v1/accounts/:accountId/vouchers/redeem',
    );
    if (routed)
      expect(said).not.toMatch(/not available/); // a wrong PIN: the engine's refusal
    else expect(said).toBe('Voucher redemption is not available here yet.');
    expect(await page.getAttribute('#voucher-result', 'class')).toBe('error');
    await page.close();
  });

  it('refuses a wrong key and keeps nothing', async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/selfcare`);
    await page.fill('#key', 'not-a-key');
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#message.error');
    expect(await page.textContent('#message')).toMatch(/not accepted/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.isHidden('#account')).toBe(true);
    await page.close();
  });
});
