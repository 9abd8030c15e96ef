/**
 * The outbox drain in its own thread (src/storage/drain-thread.ts): it stores every entry in
 * PostgreSQL and empties the outboxes, its last drain stores what the schedule had not, and a
 * PostgreSQL that goes away (here: the proxy in front of it closed) is waited out, said once, and
 * caught up with once it is back — the ledger then sums to the balances in Redis.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLedgerSchema, ledgerTable } from '../../src/balances/ledger.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { outboxesKey } from '../../src/balances/keys.js';
import { redisWhere, startDrainThread, type DrainThreadData } from '../../src/storage/drain-thread.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const store = createBalanceStore({ redis, keyPrefix: prefix });
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** A TCP proxy in front of PostgreSQL that can be taken away (every connection cut) and brought back. */
function pgProxy() {
  const target = new URL(databaseUrl());
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  let port = 0;
  const listen = () =>
    new Promise<void>((ok) => server.listen(port, '127.0.0.1', () => ok())).then(() => {
      port = (server.address() as net.AddressInfo).port;
    });
  return {
    listen,
    url: () => {
      const u = new URL(databaseUrl());
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    async down() {
      await new Promise((ok) => {
        server.close(ok);
        for (const s of sockets) s.destroy();
      });
    },
  };
}

const proxy = pgProxy();

beforeAll(async () => {
  await ensureLedgerSchema(pool, schema);
  await ensureRecordsSchema(pool, schema);
  await proxy.listen();
});
afterAll(() => proxy.down());

interface Logged {
  level: string;
  msg: string;
}
function logger() {
  const lines: Logged[] = [];
  const at = (level: string) => (_obj: object, msg: string) => lines.push({ level, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

function data(o: Partial<DrainThreadData> = {}): DrainThreadData {
  return { ...redisWhere(redis), postgresUrl: proxy.url(), schema, keyPrefix: prefix, ...o };
}

let accounts = 0;
/** A new account with money, then `debits` debits of 1 nano each (each an outbox entry). */
async function account(debits: number): Promise<string> {
  const id = `a${accounts++}`;
  await store.createAccount({ tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id }, `c-${id}`);
  await store.addBalance('t', id, { id: 'main', unit: 'money', value: 1_000_000 }, `b-${id}`);
  for (let i = 0; i < debits; i++)
    await store.debit('t', id, { opId: `${id}-d${i}`, charge: { unit: 'generic', units: 0, amountNano: 1 } });
  return id;
}

/** The ledger's sum of an account's main balance in PostgreSQL. */
async function ledgerSum(id: string): Promise<number> {
  const r = await pool.query<{ total: string | null }>(
    `SELECT sum(delta)::text AS total FROM ${ledgerTable(schema)} WHERE account_id = $1 AND balance_id = 'main'`,
    [id],
  );
  return Number(r.rows[0]!.total ?? 0);
}

async function mainBalance(id: string): Promise<number> {
  return (await store.getAccount('t', id))!.balances.find((b) => b.id === 'main')!.value;
}

/** Entries still in the outboxes of this test's keys. */
async function entriesLeft(): Promise<number> {
  const streams = await redis.smembers(outboxesKey({ prefix }));
  const lengths = await Promise.all(streams.map((s) => redis.xlen(s)));
  return lengths.reduce((a, b) => a + b, 0);
}

async function until(what: () => Promise<boolean>, tries = 150): Promise<void> {
  for (let i = 0; i < tries && !(await what()); i++) await sleep(200);
}

describe('the drain thread', () => {
  it('stores every entry in PostgreSQL and empties the outboxes', async () => {
    const ids = await Promise.all([account(5), account(7)]);
    const { lines, log } = logger();
    const thread = startDrainThread(data(), log);
    await until(async () => (await entriesLeft()) === 0);
    for (const id of ids) expect(await ledgerSum(id)).toBe(await mainBalance(id));
    expect(await entriesLeft()).toBe(0);
    expect(await thread.stop()).toEqual({ stored: 0 });
    expect(lines.filter((l) => l.level !== 'info')).toEqual([]);
  }, 60_000);

  it('its last drain stores what the schedule has not reached', async () => {
    const { log } = logger();
    const thread = startDrainThread(data({ everyMs: 600_000 }), log);
    const id = await account(3);
    const last = await thread.stop();
    expect('stored' in last && last.stored).toBeGreaterThanOrEqual(3);
    expect(await ledgerSum(id)).toBe(await mainBalance(id));
    expect(await entriesLeft()).toBe(0);
  }, 60_000);

  it('waits out PostgreSQL going away, says so once, and catches up once it is back', async () => {
    const { lines, log } = logger();
    const thread = startDrainThread(data(), log);
    await account(1);
    await until(async () => (await entriesLeft()) === 0); // the thread is up and draining
    await proxy.down();
    const id = await account(4);
    await sleep(1500); // several drains with PostgreSQL away
    expect(await ledgerSum(id)).toBe(0);
    expect(await entriesLeft()).toBeGreaterThan(0); // kept in Redis until stored
    await proxy.listen();
    await until(async () => (await entriesLeft()) === 0);
    expect(await ledgerSum(id)).toBe(await mainBalance(id));
    expect(await thread.stop()).toEqual({ stored: 0 });
    const drainLines = lines.filter((l) => l.msg.startsWith('drain to PostgreSQL'));
    expect(drainLines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(drainLines[0]!.msg).toMatch(/not answering/);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 60_000);
});
