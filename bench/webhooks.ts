/**
 * Webhook delivery throughput (issue 14, F.6): a backlog of account events (spread over accounts,
 * as delivery is ordered per account) delivered by the engine's deliverer to a local receiver in a
 * process of its own that answers 200 at once and counts unique `webhook-id`s; then, in the same run,
 * the ceiling: the same receiver driven by a plain keep-alive HTTP client with as many requests in
 * flight as the deliverer's batch, no PostgreSQL, no signing.
 *
 *   npm run bench:webhooks [-- --events 20000 --accounts 2000 --rounds 3]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import pg from 'pg';
import { createDeliverer } from '../src/webhooks/deliverer.js';
import { endpointStore } from '../src/webhooks/endpoints.js';
import { ensureWebhooksSchema } from '../src/webhooks/schema.js';
import { secretBox } from '../src/webhooks/secret-box.js';
import { createSender } from '../src/webhooks/send.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    accounts: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' },
    serve: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const ACCOUNTS = Number(values.accounts);
const BATCH = Number(values.batch);

/** The receiver: 200 at once; on GET, how many distinct ids it has seen. */
function serve(): void {
  const ids = new Set<string>();
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') return res.end(JSON.stringify({ unique: ids.size, requests }));
    requests++;
    const id = req.headers['webhook-id'];
    if (typeof id === 'string') ids.add(id);
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  });
}

async function counts(url: string): Promise<{ unique: number; requests: number }> {
  const r = await fetch(url);
  return (await r.json()) as { unique: number; requests: number };
}

/** The ceiling: the same number of POSTs, BATCH in flight, on keep-alive connections. */
async function ceiling(url: string, n: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ id: 'x', type: 'balance.low', data: { balance: '1.00' } });
  const one = (i: number) =>
    new Promise<void>((ok, fail) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'webhook-id': `c${i}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', ok);
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  const t = performance.now();
  for (let i = 0; i < n; i += BATCH)
    await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => one(i + k)));
  agent.destroy();
  return n / ((performance.now() - t) / 1000);
}

async function main(): Promise<void> {
  const child = spawn('node', ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((ok) =>
    child.stdout.once('data', (c: Buffer) => ok(c.toString().trim())),
  );
  const url = `http://127.0.0.1:${port}/hook`;
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    max: 4,
  });
  const schema = `bench_wh_${randomBytes(4).toString('hex')}`;
  try {
    await ensureWebhooksSchema(pool, schema);
    const box = secretBox(randomBytes(32));
    const policy = { allowHttp: true, allowPrivate: true };
    await endpointStore(pool, schema, box).create('bench', { url, description: 'bench', eventTypes: ['*'] });
    const sender = createSender(policy, 10_000);
    const deliverer = createDeliverer({ pool, schema, box, sender, batchSize: BATCH, runBudgetMs: 600_000 });
    console.log(
      `webhooks bench ${new Date().toISOString()} on ${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `calib ${calibrate()} Miter/s; ${EVENTS} events over ${ACCOUNTS} accounts per round, batch ${BATCH}`,
    );
    for (let round = 1; round <= Number(values.rounds); round++) {
      const before = await counts(url);
      const t0 = performance.now();
      await pool.query(
        `INSERT INTO ${schema}.events (id, tenant, type, account_id, occurred_at, payload)
         SELECT $1 || g, 'bench', 'balance.low', 'acc' || (g % $3), now(), jsonb_build_object('balance', '1.00', 'n', g)
           FROM generate_series(1, $2) g`,
        [`r${round}-`, EVENTS, ACCOUNTS],
      );
      const tAppend = performance.now();
      let attempts = 0;
      while (
        (await pool.query(`SELECT 1 FROM ${schema}.webhook_deliveries WHERE status = 'pending' LIMIT 1`))
          .rowCount
      )
        attempts += await deliverer.runOnce();
      const tDone = performance.now();
      const after = await counts(url);
      const ceil = await ceiling(url, EVENTS);
      const s = (ms: number) => (ms / 1000).toFixed(2);
      console.log(
        `round ${round}: append ${s(tAppend - t0)} s (${Math.round(EVENTS / ((tAppend - t0) / 1000))} events/s with sequence and fan-out); ` +
          `deliver ${s(tDone - tAppend)} s = ${Math.round(attempts / ((tDone - tAppend) / 1000))} deliveries/s; ` +
          `receiver: ${after.unique - before.unique} new unique ids, ${after.requests - before.requests} requests; ` +
          `ceiling (plain client, same receiver) ${Math.round(ceil)} req/s`,
      );
    }
    sender.close();
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
    child.kill();
  }
}

if (values.serve) serve();
else await main();
