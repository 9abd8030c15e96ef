/**
 * Rules about a date coming: a bundle expiring within `days` (its expiry as the detector saw it at
 * its last grant) and a plan renewal due within `days` (the assignment's period end). Each fires once
 * per (rule, bundle or assignment, date): the event id carries the date, so a renewed bundle or a
 * new period is announced again and a rerun, here or on another engine, appends nothing.
 */
import type { Pool } from 'pg';
import { appendEvent, type NewEvent } from '../webhooks/append.js';

const BATCH = 500;

const expiringSql = (s: string) => `
SELECT a.tenant, a.account_id, a.subject, a.balance_id, a.expires_at, r.code, (r.params->>'days')::int AS days,
       concat_ws(':', 'bundle.expiring', a.tenant, a.subject, a.balance_id,
                 (extract(epoch FROM a.expires_at) * 1000)::bigint, r.code) AS id
  FROM ${s}.notification_allowances a
  JOIN ${s}.notification_rules r ON r.tenant = a.tenant AND r.kind = 'bundle_expiring' AND r.enabled
   AND (r.account_id IS NULL OR r.account_id = a.account_id)
 WHERE a.account_id IS NOT NULL AND a.expires_at > $1
   AND a.expires_at <= $1 + make_interval(days => (r.params->>'days')::int)`;

const renewalSql = (s: string) => `
SELECT p.tenant, p.account_id, p.id AS assignment_id, p.plan_code, p.current_period_end, r.code,
       (r.params->>'days')::int AS days,
       concat_ws(':', 'plan.renewal_due', p.id, (extract(epoch FROM p.current_period_end) * 1000)::bigint, r.code) AS id
  FROM ${s}.account_plans p
  JOIN ${s}.notification_rules r ON r.tenant = p.tenant AND r.kind = 'renewal_due' AND r.enabled
   AND (r.account_id IS NULL OR r.account_id = p.account_id)
 WHERE p.status IN ('active', 'unpaid') AND p.current_period_end > $1
   AND (p.end_at IS NULL OR p.end_at > p.current_period_end)
   AND p.current_period_end <= $1 + make_interval(days => (r.params->>'days')::int)`;

/** Rows of a query whose event is not stored yet, a batch at a time. */
const fresh = (sql: string, s: string) =>
  `SELECT * FROM (${sql}) x WHERE NOT EXISTS (SELECT 1 FROM ${s}.events e WHERE e.id = x.id) LIMIT ${BATCH}`;

interface Row {
  id: string;
  tenant: string;
  account_id: string;
  code: string;
  days: number;
  [k: string]: unknown;
}

/** One pass as of `nowMs`; answers how many events were appended. */
export async function upcomingOnce(pool: Pool, schema: string, nowMs: number): Promise<number> {
  const at = new Date(nowMs);
  let appended = 0;
  const kinds: [string, (r: Row) => Pick<NewEvent, 'type' | 'payload'>][] = [
    [
      expiringSql(schema),
      (r) => ({
        type: 'bundle.expiring',
        payload: {
          rule: r.code,
          days: r.days,
          balanceId: r.balance_id,
          expiresAt: r.expires_at,
          ...group(r),
        },
      }),
    ],
    [
      renewalSql(schema),
      (r) => ({
        type: 'plan.renewal_due',
        payload: {
          rule: r.code,
          days: r.days,
          assignmentId: r.assignment_id,
          planCode: r.plan_code,
          renewsAt: r.current_period_end,
        },
      }),
    ],
  ];
  for (const [sql, eventOf] of kinds) {
    for (;;) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const rows = await c.query<Row>(fresh(sql, schema), [at]);
        for (const r of rows.rows) {
          const e = eventOf(r);
          const added = await appendEvent(c, schema, {
            ...e,
            tenant: r.tenant,
            accountId: r.account_id,
            id: r.id,
            occurredAt: at,
          });
          if (added.created) appended++;
        }
        await c.query('COMMIT');
        if (rows.rows.length < BATCH) break;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        c.release();
      }
    }
  }
  return appended;
}

const group = (r: Row) => (String(r.subject).startsWith('g:') ? { groupId: String(r.subject).slice(2) } : {});
