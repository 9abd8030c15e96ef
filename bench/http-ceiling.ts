/**
 * The HTTP ceilings of this box, measured with the same load client as the charging harness so the
 * two can be read side by side: a bare fastify route, a schema-validated POST with a serialized
 * reply, and the same plus one Lua debit in Redis (the skeleton of a charging request).
 *
 *   npm run bench:ceiling [-- --seconds 5 --connections 16]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createBalanceStore } from '../src/balances/store.js';
import { quantile, runLoad } from './lib/http-load.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    serve: { type: 'boolean', default: false },
    load: { type: 'string' },
    port: { type: 'string', default: '3398' },
  },
});
const PORT = Number(values.port);
const BODY = JSON.stringify({
  requestNumber: 1,
  eventTime: '2026-11-20T10:15:00Z',
  subscriptionId: '447700900123',
  ratingGroup: 10,
  usedUnits: 1000,
  requestedUnits: 1000,
});

async function serve(): Promise<void> {
  const prefix = `ceiling-${randomBytes(3).toString('hex')}:`;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
  const store = createBalanceStore({ redis, keyPrefix: prefix, idempotencySeconds: 60 });
  await store.createAccount({ tenant: 't', id: 'a', type: 'prepaid', currency: 'GBP', subject: 'a' }, 'c');
  await store.addBalance('t', 'a', { id: 'main', unit: 'money', value: 1e15 }, 'b');
  const app = Fastify({ logger: false });
  const schema = {
    body: {
      type: 'object',
      required: ['requestNumber', 'eventTime', 'ratingGroup'],
      properties: {
        requestNumber: { type: 'integer' },
        eventTime: { type: 'string' },
        subscriptionId: { type: 'string' },
        ratingGroup: { type: 'integer' },
        usedUnits: { type: 'integer' },
        requestedUnits: { type: 'integer' },
      },
    },
    response: {
      200: {
        type: 'object',
        properties: { resultCode: { type: 'integer' }, granted: { type: 'integer' } },
      },
    },
  };
  app.get('/', async () => ({ hello: 'world' }));
  app.post('/ccr-nodb', { schema }, async () => ({ resultCode: 2001, granted: 1000 }));
  let n = 0;
  app.post('/ccr', { schema }, async () => {
    const r = await store.debit('t', 'a', {
      opId: `op${n++}`,
      charge: { unit: 'generic', units: 0, amountNano: 1000 },
    });
    return { resultCode: r.code === 'OK' ? 2001 : 4012, granted: 1000 };
  });
  await app.listen({ port: PORT, host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void app.close().then(async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
        if (keys.length) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
      process.exit(0);
    });
  });
}

async function load(route: string): Promise<void> {
  const post = route !== '/';
  const r = await runLoad({
    port: PORT,
    connections: Number(values.connections),
    seconds: Number(values.seconds),
    scenario: () => [post ? { method: 'POST', path: route, body: BODY } : { method: 'GET', path: route }],
  });
  const ms = (p: number) => quantile(r.latencies, p).toFixed(2);
  process.stdout.write(
    JSON.stringify({
      route,
      rps: Math.round(r.requests / r.seconds),
      p50: ms(0.5),
      p99: ms(0.99),
      p999: ms(0.999),
      failed: r.failed,
    }) + '\n',
  );
}

function child(args: string[], onLine?: (line: string) => void) {
  const p = spawn('node', ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  p.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    for (const line of out.split('\n').slice(0, -1)) onLine?.(line);
    out = out.slice(out.lastIndexOf('\n') + 1);
  });
  return p;
}

async function main(): Promise<void> {
  if (values.serve) return serve();
  if (values.load) return load(values.load);
  console.log(`calib ${calibrate()} Miter/s`);
  const server = child(['--serve', '--port', String(PORT)]);
  await new Promise<void>((ok) => server.stdout.once('data', () => ok()));
  try {
    for (const route of ['/', '/ccr-nodb', '/ccr']) {
      await new Promise<void>((ok, fail) => {
        const p = child(
          [
            '--load',
            route,
            '--port',
            String(PORT),
            '--seconds',
            values.seconds!,
            '--connections',
            values.connections!,
          ],
          (line) => console.log(line),
        );
        p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`load exited ${code}`))));
      });
    }
  } finally {
    server.kill('SIGTERM');
  }
}

await main();
