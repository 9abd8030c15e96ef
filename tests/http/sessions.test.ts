/**
 * Charging sessions over HTTP on the real Redis (charging-api.md 5.10): exact money over a call,
 * replays, conflicts, out-of-order updates, final units, per-group credit limits, a barred account
 * mid-session, Tcc expiry releasing exactly the reservation, many small reports rounded once, and
 * malformed input changing nothing.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/store.js';
import { testApp } from '../support/app.js';
import { scanKeys, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
let clock = Date.UTC(2026, 10, 20, 10, 0, 0); // a Friday, peak
let app: FastifyInstance;
let store: BalanceStore;
const NET = { authorization: 'Bearer demo-network' };
let accounts = 0;

beforeAll(async () => {
  ({ app, balances: store } = await testApp({ redis, prefix, now: () => clock }));
});
afterAll(() => app.close());

async function customer(moneyNano: number, extra?: (id: string) => Promise<unknown>) {
  const id = `c${++accounts}`;
  const msisdn = `4477009${String(accounts).padStart(5, '0')}`;
  await store.createAccount(
    {
      tenant: 'acme',
      id,
      type: 'prepaid',
      currency: 'GBP',
      subject: id,
      subscriptions: [{ type: 'msisdn', value: msisdn }],
    },
    'create',
  );
  await store.addBalance('acme', id, { id: 'main', unit: 'money', value: moneyNano }, 'main');
  await extra?.(id);
  return {
    id,
    msisdn,
    money: async () => (await store.getAccount('acme', id))!.balances.find((b) => b.id === 'main')!,
  };
}

const at = (secondsLater: number) =>
  new Date(Date.UTC(2026, 10, 20, 10, 0, 0) + secondsLater * 1000).toISOString();
const call = (sid: string, phase: string, body: object) =>
  app.inject({
    method: 'POST',
    url: `/v1/sessions/${encodeURIComponent(sid)}/${phase}`,
    headers: NET,
    payload: body,
  });
const voiceInit = (msisdn: string, time = 60) => ({
  requestNumber: 0,
  eventTime: at(0),
  serviceContextId: '32260@3gpp.org',
  subscriptionIds: [{ type: 'E164', data: msisdn }],
  serviceInformation: { ims: { calledParty: 'tel:+447911123456' } },
  mscc: [{ ratingGroup: 100, requested: { time } }],
});

describe('voice session', () => {
  it('reserves, settles, and charges the call exactly: 5p + 97 s at 15p/min = 0.2925', async () => {
    const c = await customer(1_000_000_000);
    const sid = 'tas1.example.net;1718000100;77';
    const i = await call(sid, 'initiate', voiceInit(c.msisdn));
    expect(i.json()).toMatchObject({
      resultCode: 2001,
      mscc: [{ ratingGroup: 100, resultCode: 2001, granted: { time: 60 } }],
    });
    expect((await c.money()).held).toBe(200_000_000); // 0.05 + 60 s x 0.0025

    const u = await call(sid, 'update', {
      requestNumber: 1,
      eventTime: at(50),
      mscc: [
        { ratingGroup: 100, requested: { time: 60 }, used: [{ time: 50, reportingReason: 'THRESHOLD' }] },
      ],
    });
    expect(u.json()).toMatchObject({ resultCode: 2001, mscc: [{ granted: { time: 60 } }] });
    const t = await call(sid, 'terminate', {
      requestNumber: 2,
      eventTime: at(97),
      terminationCause: 'DIAMETER_LOGOUT',
      mscc: [{ ratingGroup: 100, used: [{ time: 47, reportingReason: 'FINAL' }] }],
    });
    expect(t.json()).toMatchObject({
      resultCode: 2001,
      costInformation: { amount: '0.2925', currency: 'GBP' },
    });
    const m = await c.money();
    expect([m.value, m.held]).toEqual([1_000_000_000 - 292_500_000, 0]);

    // A retry of the update: the first answer, byte for byte, and no money moves.
    const again = await call(sid, 'update', {
      requestNumber: 1,
      eventTime: at(50),
      retransmission: true,
      mscc: [
        { ratingGroup: 100, requested: { time: 60 }, used: [{ time: 50, reportingReason: 'THRESHOLD' }] },
      ],
    });
    expect(again.body).toBe(u.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    // The same request number with another body is refused.
    const conflict = await call(sid, 'update', {
      requestNumber: 1,
      eventTime: at(50),
      mscc: [{ ratingGroup: 100, used: [{ time: 51 }] }],
    });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ cause: 'REQUEST_CONFLICT', diameterResultCode: 5012 });
    expect((await c.money()).value).toBe(1_000_000_000 - 292_500_000);
  });

  it('keeps the answers of the last 64 requests of a long session; an older one is refused, never charged again', async () => {
    const c = await customer(1_000_000_000);
    const sid = 'long-call';
    await call(sid, 'initiate', voiceInit(c.msisdn));
    const update = (n: number) => ({
      requestNumber: n,
      eventTime: at(n),
      mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: 1 }] }],
    });
    const answers: string[] = [];
    for (let n = 1; n <= 80; n++) {
      const r = await call(sid, 'update', update(n));
      expect(r.json()).toMatchObject({ resultCode: 2001 });
      answers[n] = r.body;
    }
    const before = await c.money();
    // The last 64 are replayed byte for byte ...
    for (const n of [17, 50, 80]) {
      const again = await call(sid, 'update', update(n));
      expect(again.body).toBe(answers[n]);
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    // ... an older one is refused with a clear error, and no money moves.
    for (const n of [1, 16]) {
      const old = await call(sid, 'update', update(n));
      expect(old.statusCode).toBe(409);
      expect(old.json()).toMatchObject({ cause: 'REQUEST_TOO_OLD', diameterResultCode: 5012 });
    }
    expect(await c.money()).toEqual(before);
    // The session's record in Redis stays small however long the session lasts.
    const [key] = await scanKeys(redis, `${prefix}*:sess:${sid}`);
    const fields = await redis.hkeys(key!);
    expect(fields.filter((f) => f.startsWith('a:'))).toHaveLength(64);
    expect(fields.length).toBeLessThanOrEqual(64 + 5);
  });

  it('accepts updates out of order and charges each report once', async () => {
    const c = await customer(1_000_000_000);
    await call('ooo', 'initiate', voiceInit(c.msisdn));
    const u2 = call('ooo', 'update', {
      requestNumber: 2,
      eventTime: at(40),
      mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: 20 }] }],
    });
    const u1 = call('ooo', 'update', {
      requestNumber: 1,
      eventTime: at(20),
      mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: 20 }] }],
    });
    expect((await u2).json().resultCode).toBe(2001);
    expect((await u1).json().resultCode).toBe(2001);
    await call('ooo', 'terminate', {
      requestNumber: 3,
      eventTime: at(50),
      mscc: [{ ratingGroup: 100, used: [{ time: 10 }] }],
    });
    const m = await c.money();
    expect([m.value, m.held]).toEqual([1_000_000_000 - 175_000_000, 0]); // 0.05 + 50 s x 0.0025
  });

  it('grants the last affordable units with a final-unit indication', async () => {
    const c = await customer(100_000_000); // 0.10: the fee and 20 s
    const r = await call('fui', 'initiate', voiceInit(c.msisdn));
    expect(r.json()).toMatchObject({
      resultCode: 2001,
      mscc: [
        { resultCode: 2001, granted: { time: 20 }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } },
      ],
    });
  });

  // The next grant is what is left once the report is settled: the session's own reservation given
  // back, what was used taken. 0.25 = the fee + 80 s; 60 s held (0.20) at the initiate.
  it.each([
    ['less than granted', 30, 50], // used 0.05 + 30 s = 0.125; left 0.125 = 50 s
    ['more than granted', 70, 10], // used 0.05 + 70 s = 0.225; left 0.025 = 10 s
  ])('grants the last seconds after a report of %s', async (_, used, last) => {
    const c = await customer(250_000_000);
    const sid = `last-${used}`;
    await call(sid, 'initiate', voiceInit(c.msisdn));
    const u = await call(sid, 'update', {
      requestNumber: 1,
      eventTime: at(used),
      mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: used }] }],
    });
    expect(u.json()).toMatchObject({
      resultCode: 2001,
      mscc: [
        { resultCode: 2001, granted: { time: last }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } },
      ],
    });
    const m = await c.money();
    expect([m.value, m.held]).toEqual([250_000_000 - 50_000_000 - used * 2_500_000, last * 2_500_000]);
  });

  it('refuses to open a session nobody can pay for', async () => {
    const c = await customer(10_000_000); // 0.01 < the 0.05 connect fee
    const r = await call('broke', 'initiate', voiceInit(c.msisdn));
    expect(r.json()).toMatchObject({ resultCode: 4012, resultName: 'DIAMETER_CREDIT_LIMIT_REACHED' });
    expect((await app.inject({ url: '/v1/sessions/broke', headers: NET })).statusCode).toBe(404);
  });

  it('closes a session whose account is barred mid-session, still charging what was used', async () => {
    const c = await customer(1_000_000_000);
    await call('barred', 'initiate', voiceInit(c.msisdn));
    await store.updateAccount('acme', c.id, { status: 'suspended' }, 'bar');
    const u = await call('barred', 'update', {
      requestNumber: 1,
      eventTime: at(30),
      mscc: [{ ratingGroup: 100, requested: { time: 60 }, used: [{ time: 30 }] }],
    });
    expect(u.json()).toMatchObject({ resultCode: 4010, resultName: 'DIAMETER_END_USER_SERVICE_DENIED' });
    const m = await c.money();
    expect([m.value, m.held]).toEqual([1_000_000_000 - 125_000_000, 0]); // 0.05 + 30 s, reservation released
    const late = await call('barred', 'update', {
      requestNumber: 2,
      eventTime: at(40),
      mscc: [{ ratingGroup: 100, used: [{ time: 10 }] }],
    });
    expect(late.json().resultCode).toBe(5002);
  });

  it('expires a silent session: its reservation is released exactly, a late report is still charged', async () => {
    const c = await customer(1_000_000_000);
    await call('silent', 'initiate', voiceInit(c.msisdn));
    expect((await c.money()).held).toBe(200_000_000);
    clock += 601_000; // past Tcc (2 x 300 s)
    expect(await c.money()).toMatchObject({ value: 1_000_000_000, held: 0 });
    const t = await call('silent', 'terminate', {
      requestNumber: 1,
      eventTime: at(60),
      mscc: [{ ratingGroup: 100, used: [{ time: 60 }] }],
    });
    expect(t.json().resultCode).toBe(2001);
    expect((await c.money()).value).toBe(1_000_000_000 - 200_000_000);
    clock -= 601_000;
  });
});

describe('data session with two rating groups', () => {
  it('refuses one group for credit while the bundle keeps the other going', async () => {
    const c = await customer(0, (id) =>
      store.addBalance(
        'acme',
        id,
        { id: 'social', unit: 'data', value: 100 * 1024 * 1024, ratingGroups: [20] },
        'social',
      ),
    );
    const r = await call('pgw1;1;1', 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32251@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: c.msisdn }],
      mscc: [
        { ratingGroup: 10, requested: {} },
        { ratingGroup: 20, requested: { totalOctets: 50 * 1024 * 1024 } },
      ],
    });
    expect(r.json()).toMatchObject({
      resultCode: 2001,
      mscc: [
        { ratingGroup: 10, resultCode: 4012 },
        {
          ratingGroup: 20,
          resultCode: 2001,
          granted: { totalOctets: 52428800 },
          validityTime: 3600,
          volumeQuotaThreshold: 10485760,
        },
      ],
    });
  });

  it('redirects a data session to the top-up portal on its final units', async () => {
    // 0.001 affords 102 KiB at 0.01 per MiB counted per KiB (102 x 1024 x 0.01 / 1 MiB = 0.000996...)
    const c = await customer(1_000_000);
    const r = await call('pgw1;1;3', 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32251@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: c.msisdn }],
      mscc: [{ ratingGroup: 10, requested: { totalOctets: 1048576 } }],
    });
    expect(r.json().mscc[0]).toEqual({
      ratingGroup: 10,
      resultCode: 2001,
      granted: { totalOctets: 102 * 1024 },
      validityTime: 3600,
      finalUnitIndication: {
        finalUnitAction: 'REDIRECT',
        redirectServer: { addressType: 'URL', address: `https://topup.example/?msisdn=${c.msisdn}` },
      },
    });
  });

  it('charges many small reports exactly, rounding once at the end', async () => {
    const c = await customer(1_000_000_000);
    const sid = 'pgw1;1;2';
    await call(sid, 'initiate', {
      requestNumber: 0,
      eventTime: at(0),
      serviceContextId: '32251@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: c.msisdn }],
      mscc: [{ ratingGroup: 10, requested: { totalOctets: 1024 } }],
    });
    for (let n = 1; n <= 40; n++) {
      await call(sid, 'update', {
        requestNumber: n,
        eventTime: at(n),
        mscc: [
          {
            ratingGroup: 10,
            requested: { totalOctets: 1024 },
            used: [{ inputOctets: 24, outputOctets: 1000, totalOctets: 1024 }],
          },
        ],
      });
    }
    const t = await call(sid, 'terminate', {
      requestNumber: 41,
      eventTime: at(41),
      mscc: [{ ratingGroup: 10, used: [{ totalOctets: 1024 }] }],
    });
    // 41 KiB at 0.01 per MiB = 0.000400390625 -> up to 4 decimals, once: 0.0005 (not 41 x 0.0001).
    expect(t.json().costInformation.amount).toBe('0.0005');
    expect(await c.money()).toMatchObject({ value: 1_000_000_000 - 500_000, held: 0 });
  });
});

describe('malformed and unknown', () => {
  it('changes nothing and says why', async () => {
    const c = await customer(1_000_000_000);
    await call('m', 'initiate', voiceInit(c.msisdn));
    const before = await c.money();
    const cases: [string, object, number, string][] = [
      ['update', { requestNumber: 0, eventTime: at(1), mscc: [] }, 400, 'INVALID_REQUEST_NUMBER'],
      ['initiate', { ...voiceInit(c.msisdn), requestNumber: 3 }, 400, 'INVALID_REQUEST_NUMBER'],
      [
        'update',
        {
          requestNumber: 1,
          eventTime: at(1),
          mscc: [{ ratingGroup: 100, used: [{ inputOctets: 1, outputOctets: 1, totalOctets: 3 }] }],
        },
        400,
        'INVALID_REQUEST',
      ],
      ['update', { requestNumber: 1, eventTime: at(1), mscc: [{ ratingGroup: -1 }] }, 400, 'INVALID_REQUEST'],
      ['initiate', voiceInit(c.msisdn, 30), 409, 'SESSION_EXISTS'],
    ];
    for (const [phase, body, status, cause] of cases) {
      const r = await call('m', phase, body);
      expect([r.statusCode, r.json().cause], `${phase} ${JSON.stringify(body)}`).toEqual([status, cause]);
    }
    const replayedInitiate = await call('m', 'initiate', voiceInit(c.msisdn));
    expect([replayedInitiate.statusCode, replayedInitiate.headers['idempotent-replayed']]).toEqual([
      200,
      'true',
    ]);
    const unknown = await call('never-seen', 'update', { requestNumber: 1, eventTime: at(1), mscc: [] });
    expect(unknown.json()).toMatchObject({
      status: 404,
      cause: 'SESSION_NOT_FOUND',
      diameterResultCode: 5002,
    });
    expect(await c.money()).toEqual(before);
  });

  it('answers an unknown subscriber with 5030 in a 200 body', async () => {
    const r = await call('who', 'initiate', voiceInit('449999999999'));
    expect([r.statusCode, r.json().resultCode]).toEqual([200, 5030]);
  });
});

describe('metrics', () => {
  it('counts a session open from its initiate to its close, once, whatever comes after', async () => {
    const open = async () =>
      Number(/ocs_sessions_open (\d+)/.exec((await app.inject({ url: '/metrics' })).body)?.[1]);
    const c = await customer(1_000_000_000);
    const before = await open();
    await call('gauge;1', 'initiate', voiceInit(c.msisdn));
    await call('gauge;1', 'initiate', voiceInit(c.msisdn)); // a replay
    expect(await open()).toBe(before + 1);
    const end = { requestNumber: 1, eventTime: at(30), mscc: [{ ratingGroup: 100, used: [{ time: 30 }] }] };
    await call('gauge;1', 'terminate', end);
    await call('gauge;1', 'terminate', end); // a replay
    await call('gauge;1', 'update', { ...end, requestNumber: 2 }); // a late report
    expect(await open()).toBe(before);
  });

  it('counts answers by kind and result code, and replays', async () => {
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/ocs_charging_answers_total\{kind="initiate",result_code="2001"\} [1-9]/);
    expect(text).toMatch(/ocs_charging_answers_total\{kind="update",result_code="4010"\} 1/);
    expect(text).toMatch(/ocs_charging_replays_total\{kind="update"\} [1-9]/);
    expect(text).toMatch(/ocs_sessions_open \d+/);
    // Sessions left open by these tests still hold money.
    const held = Number(/ocs_reserved_money_nano (\d+)/.exec(text)?.[1]);
    expect(held).toBeGreaterThan(0);
  });
});
