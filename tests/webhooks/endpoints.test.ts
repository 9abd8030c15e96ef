/**
 * The endpoint routes: the secret once, reads and changes per tenant (another tenant's endpoint is
 * unknown), self-care and network keys refused; bad input — a URL not https, a private or loopback
 * target, an unknown event type — answers problem+json with its cause and writes nothing (the
 * webhook tables diffed before and after).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { auth, dump, webhooksApp } from './support.js';

const { pool, schema } = testPostgres();
let strict: Awaited<ReturnType<typeof webhooksApp>>;
let open: Awaited<ReturnType<typeof webhooksApp>>;

beforeAll(async () => {
  await ensureWebhooksSchema(pool, schema);
  strict = await webhooksApp(pool, schema, { allowHttp: false, allowPrivate: false });
  open = await webhooksApp(pool, schema, { allowHttp: true, allowPrivate: true });
});

const create = (payload: object, key = 'demo-billing', app = strict.app) =>
  app.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(key), payload });

describe('endpoints', () => {
  it('answer the secret once, never again, and never store it in the clear', async () => {
    const r = await create({
      url: 'https://crm.example/hooks',
      eventTypes: ['invoice.paid', 'balance.low'],
      description: 'CRM',
    });
    expect(r.statusCode).toBe(201);
    const ep = r.json();
    expect(ep).toMatchObject({
      url: 'https://crm.example/hooks',
      eventTypes: ['invoice.paid', 'balance.low'],
      enabled: true,
    });
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const read = await strict.app.inject({ url: `/v1/webhooks/${ep.id}`, headers: auth() });
    expect(read.json()).not.toHaveProperty('secret');
    const list = (await strict.app.inject({ url: '/v1/webhooks', headers: auth() })).json();
    expect(JSON.stringify(list)).not.toContain(ep.secret);
    const stored = JSON.stringify(await dump(pool, schema));
    expect(stored).not.toContain(ep.secret.slice(6));
  });

  it('are changed and deleted by their tenant only; self-care and network keys never see them', async () => {
    const ep = (await create({ url: 'https://crm.example/a', eventTypes: ['*'] })).json();
    for (const key of ['demo-selfcare-alice', 'demo-network']) {
      expect((await strict.app.inject({ url: '/v1/webhooks', headers: auth(key) })).statusCode).toBe(403);
      expect((await create({ url: 'https://crm.example/b', eventTypes: ['*'] }, key)).statusCode).toBe(403);
      expect((await strict.app.inject({ url: '/v1/account-events', headers: auth(key) })).statusCode).toBe(
        403,
      );
    }
    const other = { headers: auth('globex-billing') };
    expect((await strict.app.inject({ url: '/v1/webhooks', ...other })).json()).toEqual({ endpoints: [] });
    expect((await strict.app.inject({ url: `/v1/webhooks/${ep.id}`, ...other })).statusCode).toBe(404);
    const patch = await strict.app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${ep.id}`,
      ...other,
      payload: { enabled: false },
    });
    expect(patch.json()).toMatchObject({ status: 404, cause: 'WEBHOOK_NOT_FOUND' });
    expect(
      (await strict.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, ...other })).statusCode,
    ).toBe(404);

    const mine = await strict.app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${ep.id}`,
      headers: auth(),
      payload: { eventTypes: ['invoice.overdue'], enabled: false },
    });
    expect(mine.json()).toMatchObject({
      eventTypes: ['invoice.overdue'],
      enabled: false,
      disabledReason: 'disabled by a user',
    });
    expect(
      (await strict.app.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, headers: auth() }))
        .statusCode,
    ).toBe(204);
    expect((await strict.app.inject({ url: `/v1/webhooks/${ep.id}`, headers: auth() })).statusCode).toBe(404);
  });

  it.each([
    ['http://crm.example/h', {}, 'INVALID_ENDPOINT', '/url'],
    ['ftp://crm.example/h', {}, 'INVALID_ENDPOINT', '/url'],
    ['https://127.0.0.1/h', {}, 'INVALID_ENDPOINT', '/url'],
    ['https://[::1]:8443/h', {}, 'INVALID_ENDPOINT', '/url'],
    ['https://169.254.169.254/latest/meta-data', {}, 'INVALID_ENDPOINT', '/url'],
    ['https://crm.internal/h', {}, 'INVALID_ENDPOINT', '/url'], // resolves to 10.0.0.7
    ['https://user:pw@crm.example/h', {}, 'INVALID_ENDPOINT', '/url'],
    ['https://crm.example/h', { eventTypes: ['invoice.payed'] }, 'UNKNOWN_EVENT_TYPE', '/eventTypes/0'],
    ['https://crm.example/h', { eventTypes: [] }, 'INVALID_REQUEST', '/eventTypes'],
    ['https://crm.example/h', { secret: 'mine' }, 'INVALID_REQUEST', ''],
  ])('%s %j is refused (%s) and writes nothing', async (url, extra, cause, param) => {
    const before = await dump(pool, schema);
    const r = await create({ url, eventTypes: ['invoice.paid'], ...extra });
    expect(r.headers['content-type']).toContain('application/problem+json');
    const body = r.json();
    expect(body.cause).toBe(cause);
    expect(r.statusCode).toBe(cause === 'INVALID_ENDPOINT' ? 422 : 400);
    if (param) expect(body.invalidParams.map((p: { param: string }) => p.param)).toContain(param);
    expect(await dump(pool, schema)).toEqual(before);
  });

  it('a change to a refused URL or type is refused too, and the endpoint stays as it was', async () => {
    const ep = (await create({ url: 'https://crm.example/c', eventTypes: ['invoice.paid'] })).json();
    const before = await dump(pool, schema);
    for (const payload of [{ url: 'http://crm.example/c' }, { eventTypes: ['nope'] }, {}]) {
      const r = await strict.app.inject({
        method: 'PATCH',
        url: `/v1/webhooks/${ep.id}`,
        headers: auth(),
        payload,
      });
      expect(r.statusCode).toBeGreaterThanOrEqual(400);
      expect(r.json().cause).toMatch(/INVALID_ENDPOINT|UNKNOWN_EVENT_TYPE|INVALID_REQUEST/);
    }
    expect(await dump(pool, schema)).toEqual(before);
  });

  it('http and private targets are taken when the engine is configured to allow them', async () => {
    const r = await create({ url: 'http://127.0.0.1:9/h', eventTypes: ['*'] }, 'demo-billing', open.app);
    expect(r.statusCode).toBe(201);
  });
});
