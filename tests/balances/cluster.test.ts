/**
 * The same scripts on a Redis Cluster of 3 masters on loopback ports (started here with
 * redis-server and redis-cli --cluster create): every script touches one slot, also for shared
 * groups, so no CROSSSLOT error can occur.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';

const BASE = 7100 + (process.pid % 50) * 3;
const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
let cluster: Cluster;

beforeAll(() => {
  execFileSync('bash', ['scripts/start-redis-cluster.sh', String(BASE), dir], { stdio: 'pipe' });
  cluster = new Cluster([{ host: '127.0.0.1', port: BASE }], { redisOptions: { maxRetriesPerRequest: 2 } });
}, 60_000);

afterAll(async () => {
  await cluster?.quit().catch(() => undefined);
  execFileSync('bash', ['scripts/stop-redis-cluster.sh', dir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('balance store on Redis Cluster', () => {
  it('runs every operation, for accounts spread over the masters and for a shared group', async () => {
    const store = createBalanceStore({ redis: cluster, keyPrefix: 'ocs:' });
    const ids = Array.from({ length: 12 }, (_, i) => `acct${i}`);
    for (const id of ids) {
      expect(
        (
          await store.createAccount(
            { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id },
            `c-${id}`,
          )
        ).code,
      ).toBe('OK');
      expect(
        (await store.addBalance('t', id, { id: 'main', unit: 'money', value: 1000 }, `b-${id}`)).code,
      ).toBe('OK');
      expect(
        (await store.debit('t', id, { opId: `d-${id}`, charge: { unit: 'sms', units: 1, amountNano: 100 } }))
          .code,
      ).toBe('OK');
      expect(
        (
          await store.reserve('t', id, {
            opId: `r-${id}`,
            reservationId: 'r',
            charge: { unit: 'sms', units: 1, amountNano: 100 },
            ttlSeconds: 60,
          })
        ).code,
      ).toBe('OK');
      expect(
        (
          await store.commit('t', id, {
            opId: `m-${id}`,
            reservationId: 'r',
            used: { unit: 'sms', units: 1, amountNano: 50 },
          })
        ).code,
      ).toBe('OK');
    }
    const slots = new Set<number>();
    for (const id of ids)
      slots.add(Number(await cluster.call('CLUSTER', 'KEYSLOT', `ocs:{a:t:${id}}:acct:${id}`)));
    expect(slots.size).toBeGreaterThan(1);
    const masters = cluster.nodes('master').length;
    expect(masters).toBe(3);

    for (const id of ['mum', 'dad', 'kid'])
      await store.createAccount(
        { tenant: 't', id, type: 'prepaid', currency: 'EUR', subject: id, sharedGroup: 'family' },
        `c-${id}`,
      );
    await store.addBalance('t', 'mum', { id: 'family-data', unit: 'data', value: 300, shared: true }, 'fam');
    for (const id of ['mum', 'dad', 'kid']) {
      expect(
        (
          await store.debit('t', id, {
            opId: `fd-${id}`,
            charge: { unit: 'data', units: 100, amountNano: 0 },
          })
        ).code,
      ).toBe('OK');
    }
    expect((await store.getAccount('t', 'kid'))!.balances.find((b) => b.id === 'family-data')!.value).toBe(0);
    await store.addSubscription('t', 'kid', { type: 'msisdn', value: '447700900777' }, 'sub-kid');
    await store.addSubscription('t', 'acct3', { type: 'msisdn', value: '447700900003' }, 'sub-3');
    expect(await store.subscribersOf('t', 'msisdn', ['447700900003', '0', '447700900777'])).toEqual([
      { id: 'acct3', subject: 'acct3', currency: 'EUR' },
      null,
      { id: 'kid', subject: 'kid', currency: 'EUR' },
    ]);

    expect((await store.getAccount('t', 'acct3'))!.balances[0]).toMatchObject({ value: 850, held: 0 });
  });
});
