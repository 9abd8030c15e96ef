/**
 * The background deliverer: claims due deliveries (FOR UPDATE SKIP LOCKED, so several engines share
 * the work and never send one delivery twice at once), sends them, records each outcome. A claim is a
 * lease: a delivery whose engine died mid-send is due again when its lease ends (at-least-once).
 * Per endpoint and account, events go out in sequence order: a delivery waits while an earlier one of
 * its account is still pending for that endpoint (so a receiver never sees `suspended` after
 * `reactivated`). Driven by src/infra/periodic.ts, which backs off while PostgreSQL is away.
 */
import type { Pool } from 'pg';
import { appendEvent } from './append.js';
import { presentEvent, type EventRow } from './present.js';
import { outcomeOf, retryAfterMs, RETRY_DELAYS_MS, type Outcome } from './schedule.js';
import type { SecretBox } from './secret-box.js';
import type { AttemptResult, Sender } from './send.js';
import { signatureHeader } from './signature.js';

export interface DelivererOptions {
  pool: Pool;
  schema: string;
  box: SecretBox;
  sender: Sender;
  /** Deliveries claimed at once (and sent in parallel). */
  batchSize?: number;
  /** Claim-send-record loops run at once (default 3). */
  lanes?: number;
  /** How long a claimed delivery is this engine's before another may take it: past the send timeout. */
  leaseMs?: number;
  /** A run stops claiming after this long, so a stop never waits for a backlog. */
  runBudgetMs?: number;
  delaysMs?: readonly number[];
  now?: () => number;
  random?: () => number;
}

interface Claimed extends EventRow {
  endpoint_id: string;
  tenant: string;
  attempts: number;
  url: string;
  secret_enc: Buffer;
  old_secret_enc: Buffer | null;
  old_secret_until: Date | null;
}

export interface Deliverer {
  /** Sends what is due; answers how many attempts were made. */
  runOnce(): Promise<number>;
}

export function createDeliverer(o: DelivererOptions): Deliverer {
  const s = o.schema;
  const batchSize = o.batchSize ?? 100;
  const lanes = o.lanes ?? 3;
  const leaseMs = o.leaseMs ?? 60_000;
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const delaysMs = o.delaysMs ?? RETRY_DELAYS_MS;

  async function claim(): Promise<Claimed[]> {
    const r = await o.pool.query<Claimed>(
      `WITH due AS (
         SELECT d.event_id, d.endpoint_id FROM ${s}.webhook_deliveries d
           JOIN ${s}.webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
          WHERE d.status = 'pending' AND d.next_attempt_at <= now()
            AND NOT EXISTS (SELECT 1 FROM ${s}.webhook_deliveries p
                             WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id
                               AND p.status = 'pending' AND p.sequence < d.sequence)
          -- Among deliveries due at once (a backlog), an account's first comes first: fewer blocked rows read.
          ORDER BY d.next_attempt_at, d.sequence LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
       UPDATE ${s}.webhook_deliveries d SET next_attempt_at = now() + $2 * interval '1 millisecond'
         FROM due, ${s}.webhook_endpoints e, ${s}.events ev
        WHERE d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
          AND e.id = d.endpoint_id AND ev.id = d.event_id
       RETURNING d.event_id AS id, d.endpoint_id, d.tenant, d.attempts, e.url, e.secret_enc,
                 e.old_secret_enc, e.old_secret_until, ev.type, ev.account_id, ev.sequence,
                 ev.occurred_at, ev.payload`,
      [batchSize, leaseMs],
    );
    return r.rows;
  }

  /** The secrets of each endpoint of a batch, opened once for the batch. */
  function memoSecrets(): (c: Claimed) => string[] {
    const seen = new Map<string, string[]>();
    return (c) => {
      let s = seen.get(c.endpoint_id);
      if (!s) seen.set(c.endpoint_id, (s = secretsOf(c)));
      return s;
    };
  }

  function secretsOf(c: Claimed): string[] {
    const current = o.box.open(c.secret_enc, c.endpoint_id);
    const old =
      c.old_secret_enc && c.old_secret_until && c.old_secret_until.getTime() > now()
        ? [o.box.open(c.old_secret_enc, c.endpoint_id)]
        : [];
    return [current, ...old];
  }

  async function attempt(c: Claimed, secrets: string[]): Promise<AttemptResult> {
    const body = JSON.stringify(presentEvent(c));
    const timestamp = Math.floor(now() / 1000);
    return o.sender.send({
      url: c.url,
      body,
      headers: {
        'webhook-id': c.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(secrets, c.id, timestamp, body),
        'user-agent': 'ocs-engine-webhooks/1',
      },
    });
  }

  async function record(batch: { c: Claimed; res: AttemptResult; out: Outcome }[]): Promise<void> {
    const t = now();
    await o.pool.query(
      `UPDATE ${s}.webhook_deliveries d
          SET attempts = d.attempts + 1, status = u.status, last_status = NULLIF(u.http, 0),
              last_error = u.error, last_attempt_at = to_timestamp($1 / 1000.0),
              next_attempt_at = CASE WHEN u.status = 'pending' THEN to_timestamp(u.next / 1000.0) ELSE d.next_attempt_at END,
              delivered_at = CASE WHEN u.status = 'delivered' THEN to_timestamp($1 / 1000.0) END
         FROM unnest($2::text[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::float8[])
              AS u(event_id, endpoint_id, status, http, error, next)
        WHERE d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id`,
      [
        t,
        batch.map((b) => b.c.id),
        batch.map((b) => b.c.endpoint_id),
        batch.map((b) => statusOf(b.out)),
        batch.map((b) => b.res.status),
        batch.map((b) => b.res.error ?? (b.out.kind === 'delivered' ? null : `HTTP ${b.res.status}`)),
        batch.map((b) => (b.out.kind === 'retry' ? t + b.out.afterMs : 0)),
      ],
    );
    for (const b of batch) if (b.out.kind === 'gone') await disable(b.c.tenant, b.c.endpoint_id, b.c.url);
  }

  /** 410 Gone: the receiver says the endpoint no longer exists. It stays, disabled, until enabled again. */
  async function disable(tenant: string, endpointId: string, url: string): Promise<void> {
    const reason = 'the endpoint answered 410 Gone';
    const client = await o.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await client.query(
        `UPDATE ${s}.webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
          WHERE id = $1 AND enabled`,
        [endpointId, reason],
      );
      if (r.rowCount)
        await appendEvent(client, s, {
          tenant,
          type: 'webhook.endpoint_disabled',
          payload: { endpointId, url, reason },
        });
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** One lane: claim, send, record, again, until nothing is due or its time is up. */
  async function lane(started: number): Promise<number> {
    let attempts = 0;
    for (;;) {
      const claimed = await claim();
      const secrets = memoSecrets();
      const results = await Promise.all(claimed.map(async (c) => ({ c, res: await attempt(c, secrets(c)) })));
      const batch = results.map(({ c, res }) => ({
        c,
        res,
        out: outcomeOf({
          status: res.status,
          retryAfterMs: retryAfterMs(res.retryAfter, now()),
          attempts: c.attempts + 1,
          random: random(),
          delaysMs,
        }),
      }));
      if (batch.length > 0) await record(batch);
      attempts += batch.length;
      if (claimed.length < batchSize || now() - started > (o.runBudgetMs ?? 5_000)) return attempts;
    }
  }

  /**
   * Several lanes at once, so one lane's PostgreSQL round trips overlap another's HTTP; they never
   * send one delivery twice (SKIP LOCKED) nor two of an account at once (the claim's order rule).
   */
  async function runOnce(): Promise<number> {
    const started = now();
    const done = await Promise.all(Array.from({ length: lanes }, () => lane(started)));
    return done.reduce((a, b) => a + b, 0);
  }

  return { runOnce };
}

const statusOf = (o: Outcome): string =>
  o.kind === 'delivered' ? 'delivered' : o.kind === 'retry' ? 'pending' : 'failed';
