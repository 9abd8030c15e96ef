/** Calls to POST /jsonrpc as a CGRateS client makes them (tests only). */
import type { FastifyInstance } from 'fastify';

export interface RpcAnswer {
  status: number;
  /** The body as sent, to check how numbers are written. */
  raw: string;
  id: unknown;
  result: unknown;
  error: string | null;
}

let seq = 0;

export function rpcClient(app: FastifyInstance) {
  return async function rpc(
    key: string | Record<string, string>,
    method: string,
    arg?: unknown,
    params?: unknown,
  ): Promise<RpcAnswer> {
    const id = ++seq;
    const headers = typeof key === 'string' ? { authorization: `Bearer ${key}` } : key;
    const r = await app.inject({
      method: 'POST',
      url: '/jsonrpc',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ method, params: params ?? [arg ?? {}], id }),
    });
    const body = r.json() as { id: unknown; result: unknown; error: string | null };
    return { status: r.statusCode, raw: r.body, ...body };
  };
}
