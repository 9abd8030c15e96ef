/**
 * The self-care page (docs/SELFCARE.md): three static files from src/selfcare/, read once when the
 * app is built and served as they are. Public (the page holds no data; the customer's key is sent
 * by its script to the API), under a strict Content-Security-Policy: scripts and styles from this
 * origin only, no inline script, no framing.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const DIR = new URL('../../selfcare/', import.meta.url);

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const FILES = [
  { url: '/selfcare', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/selfcare/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/selfcare/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
] as const;

export function selfcarePageRoutes(app: FastifyInstance): void {
  for (const f of FILES) {
    const body = readFileSync(new URL(f.file, DIR));
    app.get(f.url, { schema: { hide: true } }, async (_req, reply) =>
      reply
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY')
        .header('cache-control', 'no-cache')
        .type(f.type)
        .send(body),
    );
  }
  app.get('/selfcare/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/selfcare'));
}
