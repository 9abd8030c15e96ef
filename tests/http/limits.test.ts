/**
 * The API's limits (docs/LIMITS.md), through inject on the real Redis and PostgreSQL: every request
 * beyond them is a 4xx problem+json with a `cause` (never a 500) and changes nothing in Redis.
 */
import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema } from '../../src/balances/ledger.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testApp } from '../support/app.js';
import { testPostgres } from '../support/postgres.js';
import { dumpKeys } from '../support/redis-dump.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
let app: FastifyInstance;
const NET = { authorization: 'Bearer demo-network' };
const BILLING = { authorization: 'Bearer demo-billing' };
const JSON_TYPE = { 'content-type': 'application/json' };

beforeAll(async () => {
  await ensureRecordsSchema(pool, schema);
  await ensureLedgerSchema(pool, schema);
  const built = await testApp({ redis, prefix, history: { pool, schema } });
  app = built.app;
  await built.balances.createAccount(
    {
      tenant: 'acme',
      id: 'alice',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'alice',
      subscriptions: [{ type: 'msisdn', value: '447700900001' }],
    },
    'c',
  );
  await built.balances.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 1_000_000_000 }, 'b');
});
afterAll(() => app.close());

const sms = (over: Record<string, unknown> = {}) => ({
  requestedAction: 'DIRECT_DEBITING',
  eventTime: '2026-11-20T10:10:00Z',
  serviceContextId: '32274@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: '447700900001' }],
  serviceInformation: { sms: { recipients: ['447911123456'] } },
  mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
  ...over,
});
const initiate = (over: Record<string, unknown> = {}) => ({
  requestNumber: 0,
  eventTime: '2026-11-20T10:00:00Z',
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: '447700900001' }],
  serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
  mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
  ...over,
});
const price = (over: Record<string, unknown> = {}) => ({
  category: 'call',
  subject: 'x',
  destination: '+442071234567',
  answerTime: '2026-11-20T10:15:00Z',
  usage: 95,
  tor: 'voice',
  ...over,
});
const event = (payload: unknown, id = 'lim-1'): InjectOptions => ({
  method: 'POST',
  url: `/v1/events/${id}`,
  headers: NET,
  payload: payload as object,
});
const raw = (
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = JSON_TYPE,
): InjectOptions => ({
  method: 'POST',
  url,
  headers: { ...NET, ...headers },
  payload: body,
});

/** The request is refused with this status and cause, as problem+json, and Redis is as it was. */
async function refused(req: InjectOptions, status: number, cause: string) {
  const before = await dumpKeys(redis, prefix);
  const r = await app.inject(req);
  expect(r.statusCode, r.body.slice(0, 300)).toBe(status);
  expect(r.headers['content-type']).toContain('application/problem+json');
  const body = r.json<{ cause: string; invalidParams?: { param: string; reason: string }[] }>();
  expect(body.cause).toBe(cause);
  expect(await dumpKeys(redis, prefix)).toEqual(before);
  return { r, body };
}

describe('bodies', () => {
  it('refuses a JSON body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify(sms({ serviceInformation: { ims: { calledParty: 'x'.repeat(2 << 20) } } }));
    await refused(raw('/v1/events/big', huge), 413, 'PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['thousands of levels of arrays (30 KB)', '['.repeat(15_000) + ']'.repeat(15_000)],
    [
      'nesting inside an otherwise valid request',
      JSON.stringify(sms()).replace('{"sms"', `{"ps":{"x":${'{"a":'.repeat(40)}1${'}'.repeat(40)}},"sms"`),
    ],
  ])('refuses JSON nested deeper than 32 levels: %s', async (_name, body) => {
    const { body: p } = await refused(raw('/v1/events/deep', body), 400, 'INVALID_REQUEST');
    expect(JSON.stringify(p)).toContain('32');
  });

  it('takes nesting up to the limit (brackets inside strings do not count)', async () => {
    const ps = `{"s":"${'[{'.repeat(50)}",${'"a":{'.repeat(25)}"b":1${'}'.repeat(25)}}`;
    const body = JSON.stringify(
      sms({ mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }] }),
    );
    const r = await app.inject(raw('/v1/events/deep-ok', body.replace('{"sms"', `{"ps":${ps},"sms"`)));
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ resultCode: 2001 });
  });

  it.each([
    ['utf-16', 'application/json; charset=utf-16'],
    ['latin-1 in quotes', 'application/json; charset="ISO-8859-1"'],
  ])('refuses JSON in a charset other than UTF-8 (%s) with 415', async (_name, type) => {
    const r = await refused(
      raw('/v1/events/cs', JSON.stringify(sms()), { 'content-type': type }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(r.body).toMatchObject({ detail: expect.stringContaining('UTF-8') });
  });

  it('reads JSON that names UTF-8 in any spelling', async () => {
    const r = await app.inject(
      raw('/v1/events/cs-ok', JSON.stringify(sms()), { 'content-type': 'application/json; Charset="UTF-8"' }),
    );
    expect(r.statusCode).toBe(200);
  });

  it.each([
    ['plain text', 'text/plain', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a made-up type', 'application/x-whatever', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an empty JSON body', 'application/json', '', 400, 'INVALID_REQUEST'],
    ['JSON cut short', 'application/json', '{"requestedAction":', 400, 'INVALID_REQUEST'],
    ['prototype poisoning', 'application/json', '{"__proto__":{"admin":true}}', 400, 'INVALID_REQUEST'],
    [
      'a body that is not UTF-8',
      'application/json',
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      400,
      'INVALID_REQUEST',
    ],
  ])('refuses %s', async (_name, type, body, status, cause) => {
    await refused(raw('/v1/events/ct', body, { 'content-type': type }), status, cause);
  });

  it('refuses a body without a content type with 415', async () => {
    await refused(
      { method: 'POST', url: '/v1/events/ct', headers: NET, payload: 'x' },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('numbers the engine cannot hold', () => {
  it.each([
    [
      'a 32-bit rating group',
      event(sms({ mscc: [{ ratingGroup: 4294967296 }] })),
      '/mscc/0/ratingGroup',
      '0 to 4294967295',
    ],
    [
      'a rating group of 1e308',
      event(sms({ mscc: [{ ratingGroup: 1e308 }] })),
      '/mscc/0/ratingGroup',
      '0 to 4294967295',
    ],
    [
      'a 32-bit service identifier',
      event(sms({ mscc: [{ ratingGroup: 300, serviceIdentifier: 4294967296 }] })),
      '/mscc/0/serviceIdentifier',
      '0 to 4294967295',
    ],
    [
      'service units past the usage limit',
      event(sms({ mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1e13 } }] })),
      '/mscc/0/requested/serviceSpecificUnits',
      '0 to 1000000000000',
    ],
    [
      'a negative amount of units',
      event(sms({ mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: -1 } }] })),
      '/mscc/0/requested/serviceSpecificUnits',
      '0 to 1000000000000',
    ],
    [
      'a 32-bit request number',
      {
        method: 'POST',
        url: '/v1/sessions/lim-s/initiate',
        headers: NET,
        payload: initiate({ requestNumber: 4294967296 }),
      },
      '/requestNumber',
      '0 to 4294967295',
    ],
    [
      'a call longer than 72 hours',
      {
        method: 'POST',
        url: '/v1/sessions/lim-s/initiate',
        headers: NET,
        payload: initiate({ mscc: [{ ratingGroup: 100, requested: { time: 259201 } }] }),
      },
      '/mscc/0/requested/time',
      '0 to 259200',
    ],
    [
      'more than a tebibyte of data',
      {
        method: 'POST',
        url: '/v1/sessions/lim-s/initiate',
        headers: NET,
        payload: initiate({ mscc: [{ ratingGroup: 100, used: [{ totalOctets: 1024 ** 4 + 1 }] }] }),
      },
      '/mscc/0/used/0/totalOctets',
      '0 to 1099511627776',
    ],
    [
      'a price enquiry for 1e308 units',
      { method: 'POST', url: '/v1/rating/price', headers: NET, payload: price({ usage: 1e308 }) },
      '/usage',
      '0 to 1099511627776',
    ],
  ])('refuses %s with 400 naming the field and its range', async (_name, req, param, range) => {
    const { body } = await refused(req as InjectOptions, 400, 'INVALID_REQUEST');
    expect(body.invalidParams).toContainEqual({ param, reason: `must be from ${range}` });
  });

  it('says the limit of the event own service when a price enquiry is past it', async () => {
    const { body } = await refused(
      { method: 'POST', url: '/v1/rating/price', headers: NET, payload: price({ usage: 259201 }) },
      400,
      'INVALID_REQUEST',
    );
    expect(body.invalidParams).toEqual([{ param: '/usage', reason: 'usage of voice may not exceed 259200' }]);
  });

  it.each([
    ['400 digits', '9'.repeat(400)],
    ['an exponent', '1e400'],
    ['0', '0'],
    ['1001', '1001'],
    ['a fraction', '1.5'],
    ['hex', '0x10'],
  ])('refuses ?limit= with %s', async (_name, limit) => {
    const { body } = await refused(
      { method: 'GET', url: `/v1/accounts/alice/usage?limit=${limit}`, headers: BILLING },
      400,
      'INVALID_REQUEST',
    );
    expect(body.invalidParams?.[0]?.param).toBe('/limit');
  });

  it('takes ?limit= from 1 to 1000', async () => {
    for (const limit of ['1', '1000']) {
      const r = await app.inject({
        method: 'GET',
        url: `/v1/accounts/alice/usage?limit=${limit}`,
        headers: BILLING,
      });
      expect(r.statusCode).toBe(200);
    }
  });
});

describe('subscription ids', () => {
  it.each(['1 000', '{{7*7}}', 'a\tb', '\u00a0447700900001', '😀'.repeat(100), 'é'])(
    'refuses a subscription id that is not printable ASCII without braces (%j) in events and sessions with 400',
    async (data) => {
      const ids = [{ type: 'E164', data }];
      for (const req of [
        event(sms({ subscriptionIds: ids })),
        {
          method: 'POST' as const,
          url: '/v1/sessions/sub-s/initiate',
          headers: NET,
          payload: initiate({ subscriptionIds: ids }),
        },
      ]) {
        const { body } = await refused(req, 400, 'INVALID_REQUEST');
        expect(body.invalidParams?.[0]?.param).toBe('/subscriptionIds/0/data');
      }
    },
  );

  it('answers an id with a quote as an unknown subscriber (5030), charging nobody', async () => {
    const r = await app.inject(event(sms({ subscriptionIds: [{ type: 'E164', data: '"\'<>' }] }), 'quote-1'));
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ resultCode: 5030 });
  });

  it('prices a subject or destination with braces and spaces (they only fail to match)', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rating/price',
      headers: NET,
      payload: price({ subject: '{{7*7}}', destination: '1 000' }),
    });
    expect(r.statusCode).toBe(200);
  });
});

describe('paths', () => {
  it.each([
    ['a malformed percent-escape', 'GET', '/v1/sessions/%zz', 400, 'INVALID_REQUEST'],
    ['a truncated percent-escape', 'POST', '/v1/events/%E0%A4%A/x', 400, 'INVALID_REQUEST'],
    ['an unknown route', 'GET', '/v2/nothing', 404, 'NOT_FOUND'],
    ['a known path with another method', 'DELETE', '/v1/tariff', 405, 'METHOD_NOT_ALLOWED'],
    ['a path parameter past any schema', 'GET', `/v1/sessions/${'a'.repeat(2000)}`, 400, 'INVALID_REQUEST'],
    ['a Session-Id of 257 characters', 'GET', `/v1/sessions/${'a'.repeat(257)}`, 400, 'INVALID_REQUEST'],
  ])('answers %s with problem+json', async (_name, method, url, status, cause) => {
    await refused({ method: method as 'GET', url, headers: NET }, status, cause);
  });

  it('says which methods a known path takes', async () => {
    const r = await app.inject({ method: 'PUT', url: '/v1/sessions/s/initiate', headers: NET });
    expect(r.statusCode).toBe(405);
    expect(r.headers.allow).toBe('POST');
  });

  it.each([128, 200, 256])('charges a session whose Session-Id has %i characters', async (length) => {
    const head = `tas.example.net;1718000100;{x}%/?#;`;
    const sid = head + 'n'.repeat(length - head.length);
    const url = `/v1/sessions/${encodeURIComponent(sid)}`;
    const r = await app.inject({ method: 'POST', url: `${url}/initiate`, headers: NET, payload: initiate() });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ resultCode: 2001 });
    const got = await app.inject({ method: 'GET', url, headers: NET });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ sessionId: sid, state: 'open' });
    const t = await app.inject({
      method: 'POST',
      url: `${url}/terminate`,
      headers: NET,
      payload: {
        requestNumber: 1,
        eventTime: '2026-11-20T10:00:10Z',
        mscc: [{ ratingGroup: 100, used: [{ time: 10 }] }],
      },
    });
    expect(t.statusCode).toBe(200);
  });
});

describe('HTTP that Node cannot parse (a real socket)', () => {
  let port = 0;
  beforeAll(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });

  /** Sends raw bytes and reads the answer until the server closes the connection. */
  async function rawHttp(port: number, bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  it.each([
    [
      'a header line without a colon',
      'GET /v1/tariff HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
      400,
      'INVALID_REQUEST',
    ],
    [
      'headers over the limit',
      `GET /v1/tariff HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
  ])('answers %s with problem+json', async (_name, bytes, status, cause) => {
    const answer = await rawHttp(port, bytes);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toContain('application/problem+json');
    expect(JSON.parse(body!)).toMatchObject({ status, cause });
  });
});
