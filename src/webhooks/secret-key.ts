/**
 * Where the key that encrypts endpoint secrets comes from: WEBHOOK_SECRET_KEY (32 bytes as 64 hex
 * digits or base64), or, when unset, a key generated once into `{DATA_DIR}/webhook-secret.key`
 * (mode 0600) — fine on one machine for development; several engines, or any production, set the
 * variable to the same value everywhere (an engine with another key cannot sign for the endpoints).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class WebhookKeyError extends Error {}

export function parseKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32)
    throw new WebhookKeyError(
      `${source} must be 32 bytes, as 64 hex digits or base64 (got ${key.length} bytes)`,
    );
  return key;
}

export function loadWebhookKey(configured: string | undefined, dataDir: string): Buffer {
  if (configured) return parseKey(configured, 'WEBHOOK_SECRET_KEY');
  const file = join(dataDir, 'webhook-secret.key');
  try {
    return parseKey(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  // Written whole under another name, then linked: an engine starting beside this one never reads a
  // half-written key, and the first link wins.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, randomBytes(32).toString('hex'), { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return parseKey(readFileSync(file, 'utf8'), file);
}
