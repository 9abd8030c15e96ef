/**
 * The pure rules of webhooks: Standard Webhooks signatures (the spec's own test vector), the retry
 * schedule (Svix's, ±10 % jitter, about 28 h in all), Retry-After, what counts as delivered, which
 * addresses are private (SSRF), and sealed secrets.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { outcomeOf, RETRY_DELAYS_MS, retryAfterMs } from '../../src/webhooks/schedule.js';
import { secretBox } from '../../src/webhooks/secret-box.js';
import { loadWebhookKey } from '../../src/webhooks/secret-key.js';
import { newSecret, sign, signatureHeader, verify } from '../../src/webhooks/signature.js';
import { checkUrl, isPrivateAddress } from '../../src/webhooks/target.js';

describe('signatures (Standard Webhooks 1.0)', () => {
  it('match the reference libraries on their test vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });
  it('while a rotated secret is honoured, either secret verifies the one header', () => {
    const [a, b] = [newSecret(), newSecret()];
    const header = signatureHeader([a, b], 'evt_1', 1_700_000_000, '{}');
    expect(header.split(' ')).toHaveLength(2);
    expect(verify(a, 'evt_1', 1_700_000_000, '{}', header)).toBe(true);
    expect(verify(b, 'evt_1', 1_700_000_000, '{}', header)).toBe(true);
    expect(verify(newSecret(), 'evt_1', 1_700_000_000, '{}', header)).toBe(false);
    expect(verify(a, 'evt_1', 1_700_000_001, '{}', header)).toBe(false);
    expect(verify(a, 'evt_1', 1_700_000_000, '{ }', header)).toBe(false);
  });
});

describe('the retry schedule', () => {
  const at = (status: number, attempts: number, random = 0.5, retryAfter: number | null = null) =>
    outcomeOf({ status, attempts, random, retryAfterMs: retryAfter });

  it('is Svix’s: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 h), then failed', () => {
    expect(RETRY_DELAYS_MS.reduce((a, b) => a + b, 0) / 3_600_000).toBeCloseTo(27.6, 1);
    RETRY_DELAYS_MS.forEach((d, i) => expect(at(500, i + 1)).toEqual({ kind: 'retry', afterMs: d }));
    expect(at(500, RETRY_DELAYS_MS.length + 1)).toEqual({ kind: 'failed' });
  });
  it('spreads each wait by at most ±10 %', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (n, r) => {
          const o = at(0, n, r);
          const base = RETRY_DELAYS_MS[n - 1]!;
          return o.kind === 'retry' && o.afterMs >= base * 0.9 - 1 && o.afterMs <= base * 1.1 + 1;
        },
      ),
    );
  });
  it('2xx is delivered; 3xx and 4xx are failures retried; 410 disables', () => {
    expect(at(200, 1)).toEqual({ kind: 'delivered' });
    expect(at(204, 3)).toEqual({ kind: 'delivered' });
    expect(at(302, 1).kind).toBe('retry');
    expect(at(400, 1).kind).toBe('retry');
    expect(at(410, 1)).toEqual({ kind: 'gone' });
  });
  it('honours Retry-After on 429 and 503, clamped to 1 s .. 24 h', () => {
    expect(at(429, 1, 0.5, 120_000)).toEqual({ kind: 'retry', afterMs: 120_000 });
    expect(at(503, 1, 0.5, 0)).toEqual({ kind: 'retry', afterMs: 1_000 });
    expect(at(429, 1, 0.5, 10 * 86_400_000)).toEqual({ kind: 'retry', afterMs: 86_400_000 });
    expect(at(500, 1, 0.5, 120_000)).toEqual({ kind: 'retry', afterMs: 5_000 });
    expect(retryAfterMs('7', 0)).toBe(7000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('2015-10-21T07:28:00Z'))).toBe(10_000);
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs(undefined, 0)).toBeNull();
  });
});

describe('targets (SSRF)', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.31.255.255', true],
    ['192.168.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['64:ff9b::10.0.0.1', true],
    ['not-an-ip', true],
    ['93.184.216.34', false],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['2606:4700::1111', false],
    ['::ffff:8.8.8.8', false],
  ])('%s is private: %s', (ip, priv) => expect(isPrivateAddress(ip)).toBe(priv));

  it('takes https only unless http is allowed, and no credentials', () => {
    const strict = { allowHttp: false, allowPrivate: false };
    expect(checkUrl('https://crm.example/hook', strict).host).toBe('crm.example');
    expect(() => checkUrl('http://crm.example/hook', strict)).toThrow(/https/);
    expect(() => checkUrl('ftp://crm.example/hook', { ...strict, allowHttp: true })).toThrow(/scheme/);
    expect(() => checkUrl('https://u:p@crm.example/', strict)).toThrow(/credentials/);
    expect(() => checkUrl('crm.example/hook', strict)).toThrow(/absolute/);
    expect(checkUrl('http://crm.example/hook', { ...strict, allowHttp: true }).protocol).toBe('http:');
  });
});

describe('sealed secrets', () => {
  it('open only with the key and on the endpoint they were sealed for', () => {
    const box = secretBox(randomBytes(32));
    const sealed = box.seal('whsec_abc', 'e1');
    expect(sealed.toString('utf8')).not.toContain('whsec_abc');
    expect(box.open(sealed, 'e1')).toBe('whsec_abc');
    expect(() => box.open(sealed, 'e2')).toThrow();
    expect(() => secretBox(randomBytes(32)).open(sealed, 'e1')).toThrow();
  });
});

describe('the key that seals secrets', () => {
  it('is WEBHOOK_SECRET_KEY when set (hex or base64), else one generated once into DATA_DIR', () => {
    const hex = randomBytes(32).toString('hex');
    expect(loadWebhookKey(hex, '/nonexistent').toString('hex')).toBe(hex);
    expect(loadWebhookKey(Buffer.from(hex, 'hex').toString('base64'), '/nonexistent').toString('hex')).toBe(
      hex,
    );
    expect(() => loadWebhookKey('abcd', '/nonexistent')).toThrow(/32 bytes/);
    const dir = mkdtempSync(join(tmpdir(), 'wh-key-'));
    try {
      const first = loadWebhookKey(undefined, dir);
      expect(loadWebhookKey(undefined, dir)).toEqual(first);
      expect(statSync(join(dir, 'webhook-secret.key')).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual(['webhook-secret.key']);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
