/**
 * The same scripts on a Redis Cluster of 3 masters on loopback ports (started here with
 * redis-server and redis-cli --cluster create): every script touches one slot, also for shared
 * groups, so no CROSSSLOT error can occur; charging sessions step on it, also moved between engines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepOp } from '../../src/balances/step.js';
import { createBalanceStore } from '../../src/balances/store.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { createDirectory } from '../../src/charging/directory.js';
import { createSessions } from '../../src/charging/sessions.js';
import { openActiveTariff } from '../../src/tariffs/active.js';
import { testPostgres } from '../support/postgres.js';
import { firstResult, runStep } from './step-helpers.js';

const BASE = 7100 + (process.pid % 50) * 3;
const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
let cluster: Cluster;
const { pool, schema } = testPostgres();

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
      const sms = (amountNano: number) => ({ unit: 'sms' as const, units: 1, amountNano });
      const reserved = await runStep(store, 't', id, `r-${id}`, [
        { verb: 'reserve', reservationId: 'r', expiresMs: Date.now() + 60_000, charge: sms(100) },
      ]);
      expect(reserved.status).toBe('APPLIED');
      const settled = await runStep(store, 't', id, `m-${id}`, [
        { verb: 'settle', reservationId: 'r', charge: sms(50) },
      ]);
      expect(settled.status).toBe('APPLIED');
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

  it('runs session steps: the session, its index and its sweep hint live in other slots than the account', async () => {
    const store = createBalanceStore({ redis: cluster, keyPrefix: 'sess:' });
    await store.createAccount(
      { tenant: 't', id: 'caller', type: 'prepaid', currency: 'EUR', subject: 'c' },
      'c',
    );
    await store.addBalance('t', 'caller', { id: 'main', unit: 'money', value: 1000 }, 'b');
    const voice = (units: number, amountNano: number) => ({ unit: 'voice' as const, units, amountNano });
    const dueMs = Date.now() + 60_000;
    const step = (n: number, state: string, ops: StepOp[], due: number | null) =>
      store.step('t', 'caller', {
        stepId: `call-1#${n}`,
        fingerprint: `f${n}`,
        answer: `answer ${n}`,
        retentionSeconds: 600,
        session: {
          id: 'call-1',
          expectedVersion: n,
          requestKey: `a:${n}`,
          state,
          dueMs: due,
          index: n === 0,
          ...(n === 0 ? { info: 'i' } : {}),
        },
        ops,
      });
    const opened = await step(
      0,
      'open',
      [{ verb: 'reserve', reservationId: 'g1', expiresMs: dueMs, charge: voice(60, 300) }],
      dueMs,
    );
    expect(firstResult(opened)).toMatchObject({ code: 'OK', moneyNano: 300 });
    expect(await store.findSession('t', 'call-1')).toMatchObject({
      accountId: 'caller',
      version: 1,
      state: 'open',
    });
    expect(await cluster.zcard('sess:sessions:due')).toBe(1); // the Tcc hint
    expect(await store.dueSessions(10)).toEqual([]); // not due yet
    const closed = await step(
      1,
      'closed',
      [{ verb: 'settle', reservationId: 'g1', charge: voice(30, 150) }],
      null,
    );
    expect(closed).toMatchObject({ status: 'APPLIED', version: 2 });
    expect(await step(1, 'closed', [], null)).toEqual({ status: 'REPLAY', answer: 'answer 1' });
    expect((await store.getAccount('t', 'caller'))!.balances[0]).toMatchObject({ value: 850, held: 0 });
    expect(await cluster.zcard('sess:sessions:due')).toBe(0);
  });

  it('charges a session moved between two engines exactly: the stored session says all a step needs', async () => {
    const store = createBalanceStore({ redis: cluster, keyPrefix: 'engines:' });
    const tariff = await openActiveTariff('tariffs/sample');
    const engine = () =>
      createSessions({
        balances: store,
        directory: createDirectory(store),
        tariff: () => tariff.current(),
        now: () => Date.UTC(2026, 10, 20, 10, 0, 0),
      });
    const [a, b] = [engine(), engine()];
    await store.createAccount(
      {
        tenant: 'acme',
        id: 'mover',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'mover',
        subscriptions: [{ type: 'msisdn', value: '447700900555' }],
      },
      'c-mover',
    );
    await store.addBalance('acme', 'mover', { id: 'main', unit: 'money', value: 1e9 }, 'b-mover');
    const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s)).toISOString();
    const report = (n: number, used: number, more: boolean) => ({
      requestNumber: n,
      eventTime: at(10 * n),
      mscc: [{ ratingGroup: 100, used: [{ time: used }], ...(more ? { requested: { time: 60 } } : {}) }],
    });
    const init = await a.handle('acme', 'moving;1', 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32260@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900555' }],
      serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
      mscc: [{ ratingGroup: 100, requested: { time: 60 } }],
    });
    expect(init.answer.resultCode).toBe(2001);
    // What the reservation holds is in the stored session, written by the step script itself.
    const stored = await store.findSession('acme', 'moving;1');
    expect(JSON.parse(stored!.state).groups['100'].holds).toEqual([{ unit: 'money', amount: 200_000_000 }]);
    expect((await b.handle('acme', 'moving;1', 'update', report(1, 20, true))).answer.resultCode).toBe(2001);
    expect((await a.handle('acme', 'moving;1', 'update', report(2, 20, true))).answer.resultCode).toBe(2001);
    const t = await b.handle('acme', 'moving;1', 'terminate', report(3, 7, false));
    // 47 s at 0.15 per minute with a 0.05 connect fee, priced once: 0.1675, as on one engine.
    expect(t.answer.costInformation).toEqual({ amount: '0.1675', currency: 'GBP' });
    expect((await store.getAccount('acme', 'mover'))!.balances[0]).toMatchObject({
      value: 1e9 - 167_500_000,
      held: 0,
    });
  });

  it('imports a CDR file: the rating workers find subscribers on the Cluster, accounts on every master are charged', async () => {
    const store = createBalanceStore({ redis: cluster, keyPrefix: 'cdr:' });
    const rating = createRatingPool({ tariffDir: 'tariffs/sample', threads: 1 });
    try {
      await ensureCdrSchema(pool, schema);
      const lines: string[] = [];
      for (let i = 1; i <= 12; i++) {
        const msisdn = `4477009${String(i).padStart(5, '0')}`;
        await store.createAccount(
          {
            tenant: 'acme',
            id: `s${i}`,
            type: 'prepaid',
            currency: 'GBP',
            subject: `s${i}`,
            subscriptions: [{ type: 'msisdn', value: msisdn }],
          },
          `c-${i}`,
        );
        await store.addBalance('acme', `s${i}`, { id: 'main', unit: 'money', value: 1e12 }, `b-${i}`);
        lines.push(`k${i},acme,${msisdn},call,voice,+442071234567,2026-11-20T12:00:00Z,60`);
      }
      lines.push('k0,acme,447700999999,call,voice,+442071234567,2026-11-20T12:00:00Z,60'); // nobody's
      const path = join(dir, 'cluster.csv');
      writeFileSync(
        path,
        `cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n${lines.join('\n')}\n`,
      );
      // An importer's own client, not connected yet when the import starts (as in the CLI).
      const importer = new Cluster([{ host: '127.0.0.1', port: BASE }]);
      const balances = createBalanceStore({ redis: importer, keyPrefix: 'cdr:' });
      const c = await importCdrFile({ balances, pool, schema, rating }, path, { fileId: 'cluster' }).finally(
        () => importer.quit(),
      );
      expect(c).toMatchObject({ read: 13, stored: 12, rejected: { UNKNOWN_SUBSCRIBER: 1 } });
      let left = 0;
      for (let i = 1; i <= 12; i++) left += (await store.getAccount('acme', `s${i}`))!.balances[0]!.value;
      expect(12e12 - left).toBe(c.chargedNano);
      expect(c.chargedNano).toBeGreaterThan(0);
    } finally {
      await rating.close();
    }
  });
});
