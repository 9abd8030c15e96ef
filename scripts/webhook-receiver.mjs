#!/usr/bin/env node
/**
 * A webhook receiver to try the engine's webhooks with: prints each delivery and whether its
 * Standard Webhooks signature is valid for WEBHOOK_SECRET (the `whsec_…` POST /v1/webhooks answered).
 *
 *   WEBHOOK_SECRET=whsec_… node scripts/webhook-receiver.mjs [port]   (default 4000)
 *
 * The engine sends to http://127.0.0.1 only with WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';

const secret = process.env.WEBHOOK_SECRET ?? '';
const port = Number(process.argv[2] ?? 4000);

/** The verifier of docs/EVENTS.md: HMAC-SHA256 of "{id}.{timestamp}.{body}", any of the signatures. */
function verify(headers, rawBody) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  if (!secret || !id || !ts || !headers['webhook-signature']) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const want = Buffer.from(
    'v1,' + createHmac('sha256', key).update(`${id}.${ts}.${rawBody}`).digest('base64'),
  );
  return headers['webhook-signature'].split(' ').some((s) => {
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const ok = verify(req.headers, body);
    console.log(`${new Date().toISOString()} signature ${ok ? 'valid' : 'INVALID'} ${body}`);
    res.writeHead(ok ? 204 : 401).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`webhook receiver on http://127.0.0.1:${port}`));
