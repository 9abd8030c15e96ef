/**
 * A lean closed-loop HTTP/1.1 load client for the benchmarks: N keep-alive connections, each sending
 * its next request when the previous answer is complete. Requests are written as prebuilt bytes and
 * answers are parsed only as far as status, Content-Length and body, so the client spends a few
 * microseconds per request and leaves the CPU to the engine (node:http's client costs ~10x more,
 * which on a 2-core box measures the client, not the server).
 */
import net from 'node:net';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

export interface LoadResult {
  requests: number;
  failed: number;
  seconds: number;
  /** Latencies in ms, sorted. */
  latencies: Float64Array;
  /** Status codes other than 200 with their counts, and the first such body. */
  errors: Record<string, number>;
  firstError?: string;
}

export interface LoadOptions {
  /** The server's port, or several (connections are spread over them). */
  port: number | number[];
  host?: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
  /** The next scenario: requests sent in order on one connection (a session's CCR-I/U/T). */
  scenario: (n: number) => LoadRequest[];
}

function encode(r: LoadRequest, host: string, headers: string): Buffer {
  const body = r.body ?? '';
  const head =
    `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\n${headers}` +
    (r.body !== undefined
      ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
      : '') +
    '\r\n';
  return Buffer.from(head + body);
}

/** Reads one HTTP answer at a time from a socket. */
class AnswerReader {
  private buf: Buffer = Buffer.alloc(0);
  private onAnswer: ((status: number, body: string) => void) | null = null;

  feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.tryParse();
  }

  next(cb: (status: number, body: string) => void): void {
    this.onAnswer = cb;
    this.tryParse();
  }

  private tryParse(): void {
    if (!this.onAnswer) return;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const m = /content-length: *(\d+)/i.exec(head);
    const length = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    const body = this.buf.toString('utf8', end + 4, end + 4 + length);
    this.buf = this.buf.subarray(end + 4 + length);
    const cb = this.onAnswer;
    this.onAnswer = null;
    cb(status, body);
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const host = o.host ?? '127.0.0.1';
  const headers = Object.entries(o.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  let firstError: string | undefined;
  let failed = 0;
  let n = 0;
  const start = performance.now();
  const until = start + o.seconds * 1000;

  const ports = Array.isArray(o.port) ? o.port : [o.port];
  const connection = (_: unknown, k: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port: ports[k % ports.length]!, noDelay: true });
      const reader = new AnswerReader();
      socket.on('data', (c: Buffer) => reader.feed(c));
      socket.on('error', reject);
      let queue: Buffer[] = [];
      const send = () => {
        if (queue.length === 0) {
          if (performance.now() >= until) return void socket.end(resolve);
          queue = o.scenario(n++).map((r) => encode(r, host, headers));
        }
        const t0 = performance.now();
        reader.next((status, body) => {
          lat.push(performance.now() - t0);
          if (status !== 200) {
            failed++;
            errors[status] = (errors[status] ?? 0) + 1;
            firstError ??= body;
          }
          send();
        });
        socket.write(queue.shift()!);
      };
      socket.once('connect', send);
    });

  await Promise.all(Array.from({ length: o.connections }, connection));
  const latencies = Float64Array.from(lat).sort();
  return {
    requests: lat.length,
    failed,
    seconds: (performance.now() - start) / 1000,
    latencies,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

export function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
