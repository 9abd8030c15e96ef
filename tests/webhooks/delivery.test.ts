/**
 * Delivery to a real HTTP receiver started here, which checks every signature and fails, times out
 * and answers 429 on purpose: every event arrives at least once, with the same `webhook-id` on each
 * attempt, in sequence order per account; 410 disables the endpoint; a rotated secret signs beside
 * the new one for its grace period; replays send again; a delivery whose deliverer died is taken over.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureWebhooksSchema } from '../../src/webhooks/schema.js';
import { testPostgres } from '../support/postgres.js';
import { auth, deliverAll, emit, receiver, testDeliverer, webhooksApp, type Received } from './support.js';

const { pool, schema } = testPostgres();
let h: Awaited<ReturnType<typeof webhooksApp>>;

beforeAll(async () => {
  await ensureWebhooksSchema(pool, schema);
  h = await webhooksApp(pool, schema);
});

async function endpoint(url: string, eventTypes = ['*'], key = 'demo-billing') {
  const r = await h.app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: auth(key),
    payload: { url, eventTypes },
  });
  expect(r.statusCode).toBe(201);
  return r.json<{ id: string; secret: string }>();
}

const byAccount = (rs: Received[]) => {
  const m = new Map<string, number[]>();
  for (const r of rs)
    if (r.body.accountId) m.set(r.body.accountId, [...(m.get(r.body.accountId) ?? []), r.body.sequence!]);
  return m;
};

describe('delivery', () => {
  it('survives failures, timeouts and 429: every event at least once, in order per account, signed', async () => {
    let secret = '';
    const tries = new Map<string, number>();
    const rx = await receiver(
      () => [secret],
      (_n, r) => {
        const k = (tries.get(r.id) ?? 0) + 1;
        tries.set(r.id, k);
        if (r.body.sequence !== 1 && r.body.sequence !== 4) return { status: 200 };
        // The 1st and 4th event of each account: 500, no answer, 429 with Retry-After, then 200.
        return k === 1
          ? { status: 500 }
          : k === 2
            ? 'hang'
            : k === 3
              ? { status: 429, headers: { 'retry-after': '1' } }
              : { status: 204 };
      },
    );
    secret = (await endpoint(rx.url)).secret;
    const accounts = ['a1', 'a2', 'a3'];
    const sent = await emit(
      pool,
      schema,
      Array.from({ length: 18 }, (_, i) => ({ accountId: accounts[i % 3]!, payload: { i } })),
    );
    await deliverAll(pool, schema, testDeliverer(h.deps));

    expect(rx.received.every((r) => r.signatureValid && r.body.id === r.id)).toBe(true);
    const ids = new Set(rx.received.map((r) => r.id));
    for (const e of sent) expect(ids.has(e.id)).toBe(true);
    // A failed event is tried again before any later event of its account is sent.
    for (const [account, seqs] of byAccount(rx.received)) {
      expect(seqs, account).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size, account).toBe(6);
    }
    expect(Math.max(...tries.values())).toBe(4);
    const rows = await pool.query(`SELECT status, attempts, last_status FROM ${schema}.webhook_deliveries`);
    expect(rows.rows.every((r) => r.status === 'delivered')).toBe(true);
    expect(rows.rows.filter((r) => r.attempts === 4).map((r) => r.last_status)).toEqual([
      204, 204, 204, 204, 204, 204,
    ]);
  });

  it('410 Gone disables the endpoint and says so in a webhook.endpoint_disabled event', async () => {
    let gone = true;
    const rx = await receiver(
      () => [],
      () => ({ status: gone ? 410 : 200 }),
    );
    const ep = await endpoint(rx.url, ['invoice.paid'], 'globex-billing');
    await emit(pool, schema, [{ tenant: 'globex', type: 'invoice.paid', accountId: 'g1' }]);
    await deliverAll(pool, schema, testDeliverer(h.deps));
    const got = (
      await h.app.inject({ url: `/v1/webhooks/${ep.id}`, headers: auth('globex-billing') })
    ).json();
    expect(got).toMatchObject({ enabled: false, disabledReason: 'the endpoint answered 410 Gone' });
    const ev = await pool.query(
      `SELECT payload FROM ${schema}.events WHERE tenant = 'globex' AND type = 'webhook.endpoint_disabled'`,
    );
    expect(ev.rows.map((r) => r.payload)).toEqual([
      { endpointId: ep.id, url: rx.url, reason: 'the endpoint answered 410 Gone' },
    ]);
    // Events while it is disabled are not queued for it; enabled again, a replay of the time range
    // sends what it missed.
    const since = new Date(Date.now() - 60_000).toISOString();
    await emit(pool, schema, [{ tenant: 'globex', type: 'invoice.paid', accountId: 'g1' }]);
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received).toHaveLength(1);
    const on = await h.app.inject({
      method: 'PATCH',
      url: `/v1/webhooks/${ep.id}`,
      headers: auth('globex-billing'),
      payload: { enabled: true },
    });
    expect(on.json()).toMatchObject({ enabled: true, disabledReason: null });
    gone = false;
    const replay = await h.app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/replay`,
      headers: auth('globex-billing'),
      payload: { from: since, to: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(replay.json()).toEqual({ replayed: 2 });
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received.map((r) => r.body.sequence)).toEqual([1, 1, 2]);
  });

  it('a rotated secret keeps signing beside the new one for its grace period, then stops', async () => {
    let secrets: string[] = [];
    const rx = await receiver(
      () => secrets,
      () => ({ status: 200 }),
    );
    const ep = await endpoint(rx.url, ['plan.renewed'], 'globex-billing');
    const rotate = (graceSeconds: number) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/webhooks/${ep.id}/rotate-secret`,
        headers: auth('globex-billing'),
        payload: { graceSeconds },
      });
    const r1 = (await rotate(3600)).json<{ secret: string; previousSecretValidUntil: string }>();
    expect(r1.secret).not.toBe(ep.secret);
    expect(r1.previousSecretValidUntil).not.toBeNull();
    secrets = [r1.secret, ep.secret];
    await emit(pool, schema, [{ tenant: 'globex', type: 'plan.renewed', accountId: 'g2' }]);
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received.map((r) => [r.signatures, r.signatureValid])).toEqual([[2, true]]);

    const r2 = (await rotate(0)).json<{ secret: string }>();
    secrets = [r2.secret];
    await emit(pool, schema, [{ tenant: 'globex', type: 'plan.renewed', accountId: 'g2' }]);
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received.map((r) => [r.signatures, r.signatureValid])).toEqual([
      [2, true],
      [1, true],
    ]);
  });

  it('replays one event, or a time range, with the same webhook-id', async () => {
    const rx = await receiver(
      () => [],
      () => ({ status: 200 }),
    );
    const ep = await endpoint(rx.url, ['bundle.renewed'], 'globex-billing');
    const [e1, e2] = await emit(pool, schema, [
      { tenant: 'globex', type: 'bundle.renewed', accountId: 'g3' },
      { tenant: 'globex', type: 'bundle.renewed', accountId: 'g3' },
    ]);
    await deliverAll(pool, schema, testDeliverer(h.deps));
    const replay = (payload: object) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/webhooks/${ep.id}/replay`,
        headers: auth('globex-billing'),
        payload,
      });
    expect((await replay({ eventId: e1!.id })).json()).toEqual({ replayed: 1 });
    await deliverAll(pool, schema, testDeliverer(h.deps));
    const hour = 3_600_000;
    const range = {
      from: new Date(Date.now() - hour).toISOString(),
      to: new Date(Date.now() + hour).toISOString(),
    };
    expect((await replay(range)).json()).toEqual({ replayed: 2 });
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received.map((r) => r.id)).toEqual([e1!.id, e2!.id, e1!.id, e1!.id, e2!.id]);
    // Another tenant's event is not found; so is another tenant's endpoint.
    const other = await h.app.inject({
      method: 'POST',
      url: `/v1/webhooks/${ep.id}/replay`,
      headers: auth(),
      payload: { eventId: e1!.id },
    });
    expect(other.statusCode).toBe(404);
    const [acme] = await emit(pool, schema, [{ tenant: 'acme', type: 'bundle.renewed', accountId: 'x' }]);
    expect((await replay({ eventId: acme!.id })).json()).toMatchObject({
      status: 404,
      cause: 'EVENT_NOT_FOUND',
    });
  });

  it('a delivery whose deliverer died mid-send is sent by another once its lease ends', async () => {
    const rx = await receiver(
      () => [],
      () => ({ status: 200 }),
    );
    await endpoint(rx.url, ['voucher.redeemed'], 'globex-billing');
    const [e] = await emit(pool, schema, [{ tenant: 'globex', type: 'voucher.redeemed', accountId: 'g4' }]);
    // This one claims and never finishes (as if killed): its lease is 300 ms.
    const dead = testDeliverer(h.deps, {
      sender: { send: () => new Promise(() => {}), close: () => {} },
      leaseMs: 300,
    });
    void dead.runOnce();
    await new Promise((r) => setTimeout(r, 50));
    await deliverAll(pool, schema, testDeliverer(h.deps));
    expect(rx.received.map((r) => r.id)).toEqual([e!.id]);
  });
});
