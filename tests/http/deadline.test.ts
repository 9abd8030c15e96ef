/**
 * Request deadlines (src/http/deadline.ts): which routes have which, a slow answer becomes 503
 * UNAVAILABLE with Retry-After at the deadline, and a request already past it never starts.
 */
import { connect, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { deadlineOf, registerDeadlines } from '../../src/http/deadline.js';
import { errorHandler } from '../../src/http/errors.js';

const D = { chargingMs: 100, provisioningMs: 300 };

describe('deadlineOf', () => {
  it.each([
    ['POST', '/v1/events/:eventId', 100],
    ['POST', '/v1/sessions/:sessionId/update', 100],
    ['POST', '/v1/rating/price', 100],
    ['GET', '/v1/sessions/:sessionId', 300],
    ['GET', '/v1/events/:id/trail', 300],
    ['POST', '/v1/accounts', 300],
    ['GET', '/v1/cdr/jobs/:id', 300],
    ['POST', '/v1/cdr/jobs', null],
    ['GET', '/health/ready', null],
    ['GET', '/metrics', null],
  ] as const)('%s %s: %s', (method, url, ms) => {
    expect(deadlineOf({ method, url }, D)).toBe(ms);
  });
});

async function appWith(opts: { handlerMs: number; beforeMs?: number }) {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  const ran: string[] = [];
  if (opts.beforeMs) app.addHook('onRequest', async () => new Promise((ok) => setTimeout(ok, opts.beforeMs)));
  registerDeadlines(app, D);
  app.post('/v1/events/:id', async () => {
    ran.push('started');
    await new Promise((ok) => setTimeout(ok, opts.handlerMs));
    ran.push('done');
    return { ok: true };
  });
  return { app, ran };
}

describe('registerDeadlines', () => {
  it('answers in time as usual', async () => {
    const { app } = await appWith({ handlerMs: 5 });
    const r = await app.inject({ method: 'POST', url: '/v1/events/x' });
    expect(r.json()).toEqual({ ok: true });
  });

  it('answers 503 UNAVAILABLE with Retry-After at the deadline; the work is not cut short', async () => {
    const { app, ran } = await appWith({ handlerMs: 400 });
    // The handler takes 400 ms: a 503 (not its 200) shows the deadline answered first.
    const r = await app.inject({ method: 'POST', url: '/v1/events/x' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toMatchObject({ cause: 'UNAVAILABLE', diameterResultCode: 3002 });
    await new Promise((ok) => setTimeout(ok, 450));
    expect(ran).toEqual(['started', 'done']);
  });

  it('answers a body that has not all arrived by the deadline 408 REQUEST_TIMEOUT, closing, not 503 (the client is late)', async () => {
    const { app, ran } = await appWith({ handlerMs: 5 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const head = (length: number) =>
      `POST /v1/events/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    const slow = await rawAnswer(port, `${head(100)}{}`); // 98 bytes never come
    expect(slow.head).toMatch(/^HTTP\/1.1 408 /);
    expect(slow.head).toMatch(/content-type: application\/problem\+json/i);
    expect(slow.head).toMatch(/connection: close/i);
    expect(JSON.parse(slow.body)).toMatchObject({ cause: 'REQUEST_TIMEOUT', status: 408 });
    expect(ran).toEqual([]);
    await app.close();

    // A whole body and a slow answer over a real socket: still 503 (what it waits for is late).
    const late = await appWith({ handlerMs: 400 });
    await late.app.listen({ port: 0, host: '127.0.0.1' });
    const port2 = (late.app.server.address() as AddressInfo).port;
    const answer = await rawAnswer(port2, `${head(2)}{}`);
    expect(answer.head).toMatch(/^HTTP\/1.1 503 /);
    await new Promise((ok) => setTimeout(ok, 450));
    await late.app.close();
  });

  it('takes a failure after the deadline answered as a warning, not an error', async () => {
    const logged: { level: number; msg: string }[] = [];
    const stream = {
      write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }),
    };
    const app = Fastify({ logger: { level: 'info', stream } });
    app.setErrorHandler(errorHandler);
    registerDeadlines(app, D);
    let failed = false;
    app.post('/v1/events/:id', async () => {
      await new Promise((ok) => setTimeout(ok, 200));
      failed = true;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    const r = await app.inject({ method: 'POST', url: '/v1/events/x' });
    expect(r.statusCode).toBe(503);
    await new Promise((ok) => setTimeout(ok, 250));
    expect(failed).toBe(true);
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(logged.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      'the request failed after its deadline was answered',
    ]);
  });

  it('never starts a request already past its deadline', async () => {
    const { app, ran } = await appWith({ handlerMs: 5, beforeMs: 150 });
    const r = await app.inject({ method: 'POST', url: '/v1/events/x' });
    expect(r.statusCode).toBe(503);
    expect(ran).toEqual([]);
  });
});

describe('outage configuration', () => {
  it('has defaults and refuses values out of range, naming the variable', () => {
    const c = loadConfig({});
    expect([
      c.requestDeadlineMs,
      c.provisioningDeadlineMs,
      c.redisCommandTimeoutMs,
      c.localRedisPort,
      c.localPostgresPort,
      c.embeddedPostgresPort,
    ]).toEqual([1000, 5000, 5000, 6379, 5432, 5441]);
    expect(loadConfig({ LOCAL_REDIS_PORT: '0', LOCAL_POSTGRES_PORT: '0' }).localRedisPort).toBe(0);
    expect(() => loadConfig({ REQUEST_DEADLINE_MS: '0' })).toThrow(/REQUEST_DEADLINE_MS/);
    expect(() => loadConfig({ PROVISIONING_DEADLINE_MS: 'soon' })).toThrow(/PROVISIONING_DEADLINE_MS/);
    expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '1.5' })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
  });
});

/** Sends raw bytes and reads one answer (its head and its Content-Length of body). */
function rawAnswer(port: number, bytes: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      const at = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      if (at < 0 || text.length < at + 4 + length) return;
      socket.destroy();
      resolve({ head: text.slice(0, at), body: text.slice(at + 4, at + 4 + length) });
    });
    socket.on('error', reject);
  });
}
