/**
 * The plain TCP listener as Go's net/rpc/jsonrpc client uses it: requests streamed back to back
 * (no newlines needed, split anywhere, even inside a UTF-8 character), answers in order, the key
 * in the request as CGRateS's dispatcher takes it, and a stream that is not JSON-RPC closed.
 */
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutObjects } from '../../src/cgrates-api/tcp.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let port = 0;

beforeAll(async () => {
  ({ app } = await testApp({ redis, prefix, cgrates: { currency: 'GBP', tcpPort: 0 } }));
  await app.ready();
  port = app.cgratesTcpPort();
});
afterAll(() => app.close());

/** A connection that collects newline-ended answers. */
async function client() {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise((ok) => socket.once('connect', ok));
  let buffered = '';
  const answers: Record<string, unknown>[] = [];
  const waiting: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      answers.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.();
    }
  });
  const next = async (n: number) => {
    while (answers.length < n) await new Promise<void>((ok) => waiting.push(ok));
    return answers.splice(0, n);
  };
  const closed = new Promise<void>((ok) => socket.once('close', () => ok()));
  return { socket, next, closed };
}

const req = (id: number, method: string, arg: object) =>
  JSON.stringify({ method, params: [{ ...arg, APIOpts: { '*apiKey': 'demo-billing' } }], id });

describe('CGRateS over TCP', () => {
  it('a CRM flow: requests back to back, split anywhere, answered in order', async () => {
    const c = await client();
    const stream =
      req(1, 'APIerSv1.Ping', {}) +
      req(2, 'APIerSv2.SetAccount', { Account: 'tcp1' }) +
      // v0.10 clients send the key as ArgDispatcher.APIKey
      JSON.stringify({
        method: 'APIerSv1.AddBalance',
        params: [
          {
            Account: 'tcp1',
            BalanceType: '*monetary',
            Value: 2.5,
            Balance: { ID: 'crédit' },
            ArgDispatcher: { APIKey: 'demo-billing' },
          },
        ],
        id: 3,
      }) +
      '\n  ' +
      req(4, 'APIerSv2.GetAccount', { Account: 'tcp1' });
    const bytes = Buffer.from(stream, 'utf8');
    const cutAt = bytes.indexOf(Buffer.from('é')) + 1; // inside the two bytes of é
    c.socket.write(bytes.subarray(0, 17));
    c.socket.write(bytes.subarray(17, cutAt));
    c.socket.write(bytes.subarray(cutAt));
    const [ping, set, add, get] = await c.next(4);
    expect(ping).toEqual({ id: 1, result: 'Pong', error: null });
    expect(set).toEqual({ id: 2, result: 'OK', error: null });
    expect(add).toEqual({ id: 3, result: 'OK', error: null });
    expect(get).toMatchObject({
      id: 4,
      error: null,
      result: {
        ID: 'acme:tcp1',
        BalanceMap: { '*monetary': [{ ID: 'crédit', Value: 2.5 }] },
      },
    });
    c.socket.end();
  });

  it('without a key in the request: UNAUTHORIZED_API, and the connection goes on', async () => {
    const c = await client();
    c.socket.write(JSON.stringify({ method: 'APIerSv2.GetAccount', params: [{ Account: 'tcp1' }], id: 9 }));
    c.socket.write(req(10, 'APIerSv1.Ping', {}));
    expect(await c.next(2)).toEqual([
      { id: 9, result: null, error: 'UNAUTHORIZED_API' },
      { id: 10, result: 'Pong', error: null },
    ]);
    c.socket.end();
  });

  it('a stream that is not JSON objects is closed', async () => {
    const c = await client();
    c.socket.write('GET / HTTP/1.1\r\n\r\n');
    await c.closed;
  });

  it('the key may also come in the request over HTTP', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/jsonrpc',
      headers: { 'content-type': 'application/json' },
      payload: req(11, 'APIerSv1.Ping', {}),
    });
    expect(r.json()).toEqual({ id: 11, result: 'Pong', error: null });
  });
});

describe('cutObjects', () => {
  it.each([
    ['{"a":1}{"b":"}"}', ['{"a":1}', '{"b":"}"}'], ''],
    ['{"a":"\\"{"} {"b":', ['{"a":"\\"{"}'], '{"b":'],
    ['  \n', [], ''],
  ])('%s', (text, objects, rest) => {
    expect(cutObjects(text)).toEqual({ objects, rest });
  });

  it('refuses what cannot start an object', () => {
    expect(() => cutObjects('[1]')).toThrow();
  });
});
