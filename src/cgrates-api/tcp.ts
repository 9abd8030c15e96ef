/**
 * CGRateS's JSON-RPC over plain TCP, as Go's net/rpc/jsonrpc codec speaks it (cgr-engine's port
 * 2012): a stream of JSON request objects, newlines optional, each answered by one JSON object
 * `{"id","result","error"}` (newline-terminated, as Go's json.Encoder writes). No headers, so the
 * key travels in the request as CGRateS's dispatcher takes it (APIOpts["*apiKey"] or
 * ArgDispatcher.APIKey; dispatch.ts). Requests on one connection are answered in order.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../http/auth.js';
import { isUnavailable } from '../infra/unavailable.js';
import { answerText, dispatch, keyInRequest, type Answer, type BaseContext } from './dispatch.js';
import { UNAUTHORIZED_API } from './errors.js';
import type { Obj } from './params.js';

/** Bounds: one request's size, connections at once, a silent connection's life. */
const MAX_REQUEST_BYTES = 1024 * 1024;
const MAX_CONNECTIONS = 1000;
const IDLE_MS = 5 * 60_000;

/**
 * Cuts complete top-level JSON objects out of a growing text: braces counted outside strings.
 * Returns the objects' texts and the rest; throws on text that cannot start an object.
 */
export function cutObjects(text: string): { objects: string[]; rest: string } {
  const objects: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth++ === 0) start = i;
    } else if (ch === '}') {
      if (--depth === 0) objects.push(text.slice(start, i + 1));
      if (depth < 0) throw new Error('unbalanced }');
    } else if (depth === 0 && !/\s/.test(ch!)) throw new Error(`unexpected ${ch} between requests`);
  }
  return { objects, rest: depth > 0 ? text.slice(start) : '' };
}

interface TcpDeps {
  base: BaseContext;
  who: (headers: { authorization: string }) => Principal | undefined;
  asStrings: boolean;
  log: FastifyBaseLogger;
  deadlineMs: number;
}

async function answerOf(d: TcpDeps, text: string): Promise<Answer> {
  let body: Obj;
  try {
    body = JSON.parse(text) as Obj;
  } catch (err) {
    return { id: null, result: null, error: `json: ${(err as Error).message}` };
  }
  const principal = d.who({ authorization: `Bearer ${keyInRequest(body)}` });
  if (!principal) return { id: body.id ?? null, result: null, error: UNAUTHORIZED_API };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Answer>((resolve) => {
    timer = setTimeout(
      () => resolve({ id: body.id ?? null, result: null, error: 'TIMED_OUT' }),
      d.deadlineMs,
    );
  });
  try {
    return await Promise.race([dispatch(d.base, principal, body, d.log), late]);
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    return {
      id: body.id ?? null,
      result: null,
      error: 'SERVER_ERROR: UNAVAILABLE (Redis or PostgreSQL did not answer; retry)',
    };
  } finally {
    clearTimeout(timer);
  }
}

function serve(d: TcpDeps, socket: Socket, open: Set<Socket>): void {
  open.add(socket);
  socket.on('close', () => open.delete(socket));
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let queue = Promise.resolve();
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let cut: ReturnType<typeof cutObjects>;
    try {
      cut = cutObjects(pending + decoder.write(chunk));
    } catch {
      socket.destroy(); // not JSON-RPC: nothing sensible can be answered on this stream
      return;
    }
    pending = cut.rest;
    if (Buffer.byteLength(pending) > MAX_REQUEST_BYTES) return void socket.destroy();
    for (const text of cut.objects) {
      queue = queue
        .then(() => answerOf(d, text))
        .then((a) => void (socket.writable && socket.write(`${answerText(a, d.asStrings)}\n`)))
        .catch((err: unknown) => {
          d.log.error({ err }, 'cgrates tcp request failed');
          socket.destroy();
        });
    }
  });
}

export function cgratesTcp(d: TcpDeps) {
  let server: Server | undefined;
  const open = new Set<Socket>();
  return {
    listen(port: number, host: string): Promise<void> {
      server = createServer((socket) => serve(d, socket, open));
      server.maxConnections = MAX_CONNECTIONS;
      return new Promise((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
    },
    port(): number {
      const a = server?.address();
      return a && typeof a === 'object' ? a.port : 0;
    },
    /** Stops listening and ends the connections (clients keep them open for good). */
    close(): Promise<void> {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      for (const socket of open) socket.end();
      return closed;
    },
  };
}
