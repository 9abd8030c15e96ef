/**
 * What the webhook tests share: the app with the webhook routes on the test's schema, keys of two
 * tenants, a real HTTP receiver that checks every signature and answers as the test tells it, and a
 * drive of the deliverer until nothing is due.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import { afterAll } from 'vitest';
import { DEMO_KEYS, type ApiKey } from '../../src/config.js';
import { appendEvent } from '../../src/webhooks/append.js';
import type { EventType } from '../../src/webhooks/event-types.js';
import { createDeliverer, type DelivererOptions } from '../../src/webhooks/deliverer.js';
import type { WebhookDeps } from '../../src/webhooks/deps.js';
import { secretBox } from '../../src/webhooks/secret-box.js';
import { createSender } from '../../src/webhooks/send.js';
import { verify } from '../../src/webhooks/signature.js';
import type { TargetPolicy } from '../../src/webhooks/target.js';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';

export const KEYS: ApiKey[] = [
  ...DEMO_KEYS,
  { key: 'globex-billing', role: 'billing', tenant: 'globex', name: 'another tenant' },
];
export const auth = (key = 'demo-billing') => ({ authorization: `Bearer ${key}` });

export const OPEN: TargetPolicy = { allowHttp: true, allowPrivate: true };

export async function webhooksApp(pool: Pool, schema: string, policy: TargetPolicy = OPEN) {
  const { redis, prefix } = testRedis();
  const deps: WebhookDeps = {
    pool,
    schema,
    box: secretBox(randomBytes(32)),
    policy,
    // Names resolve as the test says, not by the machine's DNS.
    resolve: async (host) => (host.endsWith('.internal') ? ['10.0.0.7'] : ['93.184.216.34']),
  };
  const { app } = await testApp({ redis, prefix, keys: KEYS, webhooks: deps });
  afterAll(() => app.close());
  return { app, deps };
}

export interface Received {
  id: string;
  body: { id: string; type: string; accountId: string | null; sequence: number | null; data: unknown };
  signatureValid: boolean;
  signatures: number;
}

/** What the receiver answers to one request (after it has checked and recorded it). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export async function receiver(secretOf: () => string[], answer: (n: number, r: Received) => Answer) {
  const received: Received[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const ts = Number(req.headers['webhook-timestamp']);
      const header = String(req.headers['webhook-signature']);
      const r: Received = {
        id,
        body: JSON.parse(text) as Received['body'],
        signatureValid: secretOf().every((s) => verify(s, id, ts, text, header)),
        signatures: header.split(' ').length,
      };
      received.push(r);
      const a = answer(n++, r);
      if (a === 'hang') return; // never answered: the sender's timeout
      res.writeHead(a.status, a.headers ?? {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url,
    received,
    close: () => {
      server.closeAllConnections();
    },
  };
}

/** A deliverer on the test's schema with a schedule in milliseconds (the real one is in hours). */
export function testDeliverer(deps: WebhookDeps, o: Partial<DelivererOptions> = {}) {
  const sender = createSender(deps.policy, 500);
  afterAll(() => sender.close());
  return createDeliverer({
    pool: deps.pool,
    schema: deps.schema,
    box: deps.box,
    sender,
    delaysMs: [30, 30, 30, 30, 30, 30, 30],
    leaseMs: 2_000,
    ...o,
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the deliverer until no delivery is pending (or `rounds` runs: a test never hangs). */
export async function deliverAll(
  pool: Pool,
  schema: string,
  d: { runOnce(): Promise<number> },
  rounds = 400,
) {
  for (let i = 0; i < rounds; i++) {
    await d.runOnce();
    const r = await pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.webhook_deliveries d
         JOIN ${schema}.webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled WHERE d.status = 'pending'`,
    );
    if (r.rows[0].n === 0) return;
    await pause(25);
  }
  throw new Error('deliveries still pending');
}

/** Every row of the webhook tables, to show a refused request wrote nothing. */
export async function dump(pool: Pool, schema: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const t of ['events', 'account_event_counters', 'webhook_endpoints', 'webhook_deliveries'])
    out[t] = (await pool.query(`SELECT to_jsonb(x) AS r FROM ${schema}.${t} x ORDER BY 1::text`)).rows
      .map((r) => JSON.stringify(r.r))
      .sort();
  return out;
}

/** Appends events as a producer does: each in a transaction of its own. */
export async function emit(
  pool: Pool,
  schema: string,
  events: { tenant?: string; type?: EventType; accountId?: string; payload?: object; id?: string }[],
) {
  const out = [];
  for (const e of events) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      out.push(
        await appendEvent(c, schema, {
          tenant: e.tenant ?? 'acme',
          type: e.type ?? 'balance.low',
          payload: e.payload ?? {},
          ...(e.accountId ? { accountId: e.accountId } : {}),
          ...(e.id ? { id: e.id } : {}),
        }),
      );
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }
  return out;
}
