/**
 * One JSON-RPC call as a CGRateS client makes it, over either of the facade's transports: HTTP
 * POST /jsonrpc (key as a bearer header) or the plain TCP listener (key in APIOpts["*apiKey"], as
 * CGRateS's dispatcher takes it; requests streamed back to back, answers in order). Tests only.
 */
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface Reply {
  id: unknown;
  result: unknown;
  error: string | null;
}

export interface Transport {
  call(key: string, method: string, arg?: object): Promise<Reply>;
  close(): Promise<void>;
}

let seq = 0;

export function httpTransport(app: FastifyInstance): Transport {
  return {
    async call(key, method, arg = {}) {
      const r = await app.inject({
        method: 'POST',
        url: '/jsonrpc',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ method, params: [arg], id: ++seq }),
      });
      return r.json() as Reply;
    },
    async close() {},
  };
}

/** One connection; calls are serialised (net/rpc answers in order on a connection). */
export async function tcpTransport(port: number): Promise<Transport> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise((ok, fail) => socket.once('connect', ok).once('error', fail));
  let buffered = '';
  const waiting: ((r: Reply) => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const reply = JSON.parse(buffered.slice(0, nl)) as Reply;
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(reply);
    }
  });
  return {
    call(key, method, arg = {}) {
      const withKey = { ...arg, APIOpts: { ...(arg as { APIOpts?: object }).APIOpts, '*apiKey': key } };
      return new Promise<Reply>((ok) => {
        waiting.push(ok);
        socket.write(JSON.stringify({ method, params: [withKey], id: ++seq }));
      });
    },
    async close() {
      socket.end();
      await new Promise<void>((ok) => socket.once('close', () => ok()));
    },
  };
}
