/**
 * Money coming in survives a failover (docs/BALANCES.md, "What a failover can lose"): a top-up is
 * acknowledged only once a replica of its master has it. An engine process on a 3-master
 * 3-replica Cluster: with the account's replica stopped, a top-up is answered 503 with Retry-After
 * (on the master, not yet on a replica); the retry, with the replica back, replays it; a top-up
 * answered 200 and its master killed -9 at once is on the promoted replica.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { keySlot } from '../../src/infra/key-slot.js';
import { connectRedis } from '../../src/infra/redis.js';
import { testPostgres } from '../support/postgres.js';
import type { EngineProcess } from './engine-process.js';
import {
  accountSlot,
  call,
  engineOn,
  startTestCluster,
  stopEngine,
  until,
  type TestCluster,
} from './failover-cluster.js';

// Redis ports 8000..8149 (failover-engines.test.ts: 8150..8299).
const BASE = 8000 + (process.pid % 25) * 6;
const dir = mkdtempSync(join(tmpdir(), 'ocs-failover-topup-'));
const { schema } = testPostgres();
const prefix = `f${randomBytes(4).toString('hex')}:`;
const BILLING = 'Bearer demo-billing';
let cluster: TestCluster;
let engine: EngineProcess | undefined;

beforeAll(() => {
  cluster = startTestCluster(BASE, join(dir, 'redis'));
}, 60_000);

afterAll(async () => {
  if (engine) await stopEngine(engine);
  cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A top-up as a billing system sends it: again, with the same reference, while it is answered 503. */
async function topUp(reference: string, amount: string) {
  const r = await until(`top-up ${reference}`, 30_000, async () => {
    const a = await call(engine!, 'POST', '/v1/accounts/payer/credits', BILLING, {
      balanceId: 'main',
      amount,
      reference,
    });
    return a.status === 503 ? undefined : a;
  });
  expect(r.status, r.body).toBe(200);
  return r;
}

async function mainBalance(id: string): Promise<string | undefined> {
  const r = await call(engine!, 'GET', `/v1/accounts/${id}`, BILLING);
  if (r.status !== 200) return undefined;
  return (r.json.balances as { id: string; value: string }[]).find((b) => b.id === 'main')?.value;
}

describe('the key slot', () => {
  it('is the one the Cluster computes', async () => {
    const client = new Cluster([{ host: '127.0.0.1', port: BASE }]);
    try {
      for (const key of [
        'plain',
        '{a:acme:x}:acct:x',
        'p{}{b}',
        '{}x',
        'é{ü}',
        'a{b',
        `r${randomBytes(8).toString('hex')}`,
      ])
        expect(keySlot(key)).toBe(Number(await client.cluster('KEYSLOT', key)));
    } finally {
      await client.quit();
    }
  });
});

describe('a slot moved under the waited writes', () => {
  it('is followed: a credit sent to the old master is sent again to the new one', async () => {
    const handle = await connectRedis({
      cluster: { nodes: [{ host: '127.0.0.1', port: BASE }], tls: false },
      dataDir: dir,
      say: () => undefined,
    });
    // Once the slot map lists every replica (a new Cluster names them after their first sync).
    const client = handle.redis as Cluster;
    await until('the replicas listed', 20_000, async () => {
      await new Promise<void>((ok) => client.refreshSlotsCache(() => ok()));
      return client.slots.every((s) => s.length === 2) ? true : undefined;
    });
    const store = createBalanceStore({ redis: handle.redis, keyPrefix: `m${prefix}` });
    const open = async (id: string) => {
      await store.createAccount(
        { tenant: 'acme', id, type: 'prepaid', currency: 'EUR', subject: id },
        `c-${id}`,
      );
      expect(
        (await store.addBalance('acme', id, { id: 'main', unit: 'money', value: 0 }, `b-${id}`)).code,
      ).toBe('OK');
    };
    try {
      await open('first'); // the waited writes' own client now has its slot map
      // An account whose slot is empty, moved to another master behind that client's back.
      const id = Array.from({ length: 100 }, (_, i) => `moved${i}`).find(
        (x) => cluster.ownerOf(accountSlot(x)).master !== cluster.ownerOf(accountSlot('first')).master,
      )!;
      const slot = accountSlot(id);
      const from = cluster.ownerOf(slot).master;
      const to = [BASE, BASE + 1, BASE + 2].find((p) => p !== from && cluster.ownerOf(slot).master !== p)!;
      const nodeId = (port: number) =>
        execFileSync('redis-cli', ['-p', String(port), 'cluster', 'myid'])
          .toString()
          .trim();
      const target = nodeId(to);
      for (const port of [to, from, ...[BASE, BASE + 1, BASE + 2].filter((p) => p !== to && p !== from)])
        execFileSync('redis-cli', ['-p', String(port), 'cluster', 'setslot', String(slot), 'node', target]);
      await until('the slot moved', 10_000, async () =>
        cluster.ownerOf(slot).master === to ? true : undefined,
      );
      // And every node, replicas too, says so (they learn it by gossip; the client's map may be read
      // from any of them): otherwise a busy box can keep answering the old map past the resends.
      const ownsIn = (port: number) => {
        const nodes = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'nodes']).toString();
        const line = nodes.split('\n').find((l) => l.startsWith(target));
        return (line ?? '')
          .split(' ')
          .slice(8)
          .some((range) => {
            const [a, b] = range.split('-').map(Number);
            return slot >= a! && slot <= (b ?? a!);
          });
      };
      await until('every node knows the slot moved', 20_000, async () =>
        [0, 1, 2, 3, 4, 5].every((i) => ownsIn(BASE + i)) ? true : undefined,
      );
      await open(id);
      const r = await store.credit('acme', id, { opId: 'moved-credit', balanceId: 'main', amount: 5 });
      expect([r.code, r.replayed]).toEqual(['OK', false]);
      expect((await store.getAccount('acme', id))!.balances[0]!.value).toBe(5);
    } finally {
      await handle.stop();
    }
  }, 60_000);
});

describe('a top-up and a failover', () => {
  it('is acknowledged once a replica has it, and survives its master killed right after', async () => {
    engine = await engineOn(cluster, {
      schema,
      prefix,
      dataDir: join(dir, 'engine'),
      REDIS_WAIT_TIMEOUT_MS: '300',
    });
    const created = await call(engine, 'POST', '/v1/accounts', BILLING, {
      id: 'payer',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'payer',
      reference: 'crm-payer',
    });
    expect(created.status, created.body).toBe(201);
    const wallet = await call(engine, 'POST', '/v1/accounts/payer/balances', BILLING, {
      id: 'main',
      unit: 'money',
      value: '1.00',
      reference: 'crm-payer-main',
    });
    expect(wallet.status, wallet.body).toBe(201);
    const { master, replicas } = cluster.ownerOf(accountSlot('payer'));
    expect(replicas).toHaveLength(1);

    // The replica stopped: the top-up is on the master only, so it is not acknowledged.
    process.kill(cluster.pid(replicas[0]!), 'SIGSTOP');
    let refused;
    try {
      refused = await call(engine, 'POST', '/v1/accounts/payer/credits', BILLING, {
        balanceId: 'main',
        amount: '5.00',
        reference: 'pay-1',
      });
    } finally {
      process.kill(cluster.pid(replicas[0]!), 'SIGCONT');
    }
    expect(refused.status, refused.body).toBe(503);
    expect(refused.json.cause).toBe('UNAVAILABLE');
    expect(refused.headers.get('retry-after')).toBe('1');
    // The retry, with the same reference, replays the top-up and waits again: now acknowledged.
    const retried = await topUp('pay-1', '5.00');
    expect(retried.json.replayed).toBe(true);

    // A top-up answered 200, and its master killed at once: the promoted replica has it.
    const paid = await topUp('pay-2', '7.25');
    expect(paid.json.replayed).toBe(false);
    process.kill(cluster.pid(master), 'SIGKILL');
    await until('the replica promoted', 30_000, async () => {
      try {
        return cluster.ownerOf(accountSlot('payer')).master === replicas[0] ? true : undefined;
      } catch {
        return undefined; // no master for the slot yet
      }
    });
    expect(await until('the account answered', 30_000, () => mainBalance('payer'))).toBe('13.25');
    // Both top-ups' records survived too: their retries replay, nothing is credited twice.
    // (The promoted replica has no replica of its own: nothing to wait for.)
    expect((await topUp('pay-1', '5.00')).json.replayed).toBe(true);
    expect((await topUp('pay-2', '7.25')).json.replayed).toBe(true);
    expect(await mainBalance('payer')).toBe('13.25');
  }, 180_000);
});
