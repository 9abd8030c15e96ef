/**
 * Auto top-up for prepaid accounts (issue 14, F.1). The engine only asks: when the watched money
 * balance crosses below the threshold the detector appends `autotopup.requested` (once per
 * crossing, one request open at a time — one the CRM left unreported for a day no longer blocks the
 * next — within the day and month caps, else `autotopup.capped`). The CRM charges the card and, on
 * success, tops the account up through the credits route itself; the result it reports here moves
 * no money. Three failures in a row disable the rule.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { appendEvent, type NewEvent } from '../webhooks/append.js';
import { nanoToDecimal } from '../rating/money.js';
import { topUpAmount } from './rules.js';

export const MAX_FAILURES = 3;

export interface AutoTopUp {
  balanceId: string;
  thresholdNano: bigint;
  amountNano: bigint | null;
  targetNano: bigint | null;
  maxPerDay: number;
  maxPerMonth: number;
  reference: string;
}

export type SaveOutcome = 'saved' | 'replayed' | 'conflict';

/** Saves the rule (enabled, re-armed, failures cleared); the same reference with another body is a conflict. */
export async function saveAutoTopUp(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  r: AutoTopUp,
): Promise<SaveOutcome> {
  const hash = createHash('sha256')
    .update(
      JSON.stringify({
        ...r,
        thresholdNano: `${r.thresholdNano}`,
        amountNano: `${r.amountNano}`,
        targetNano: `${r.targetNano}`,
      }),
    )
    .digest('hex');
  // One statement: a row already saved under this reference is left as it is (and locked), so two
  // requests with one reference never both save.
  const saved = await pool.query(
    `INSERT INTO ${schema}.auto_topup_rules (tenant, account_id, balance_id, threshold_nano, amount_nano, target_nano,
       max_per_day, max_per_month, reference, body_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (tenant, account_id) DO UPDATE SET balance_id = $3, threshold_nano = $4, amount_nano = $5,
       target_nano = $6, max_per_day = $7, max_per_month = $8, reference = $9, body_hash = $10,
       enabled = true, armed = true, consecutive_failures = 0, updated_at = now()
     WHERE auto_topup_rules.reference <> EXCLUDED.reference RETURNING 1`,
    [
      tenant,
      accountId,
      r.balanceId,
      `${r.thresholdNano}`,
      r.amountNano === null ? null : `${r.amountNano}`,
      r.targetNano === null ? null : `${r.targetNano}`,
      r.maxPerDay,
      r.maxPerMonth,
      r.reference,
      hash,
    ],
  );
  if (saved.rowCount === 1) return 'saved';
  const old = await pool.query<{ body_hash: string }>(
    `SELECT body_hash FROM ${schema}.auto_topup_rules WHERE tenant = $1 AND account_id = $2`,
    [tenant, accountId],
  );
  return old.rows[0]?.body_hash === hash ? 'replayed' : 'conflict';
}

interface RuleRow {
  tenant: string;
  account_id: string;
  balance_id: string;
  threshold_nano: string;
  amount_nano: string | null;
  target_nano: string | null;
  max_per_day: number;
  max_per_month: number;
  armed: boolean;
}

export async function enabledRules(c: PoolClient, schema: string, tenants: string[], accounts: string[]) {
  const r = await c.query<RuleRow>(
    `SELECT * FROM ${schema}.auto_topup_rules WHERE enabled AND tenant = ANY($1) AND account_id = ANY($2)`,
    [tenants, accounts],
  );
  return new Map(r.rows.map((x) => [`${x.tenant}/${x.account_id}`, x]));
}

/** One movement of the watched balance: request (or cap) on a downward crossing, re-arm above. */
export async function onMoney(
  c: PoolClient,
  schema: string,
  rule: RuleRow,
  m: { valueAfter: bigint; eventId: string; at: Date },
  /** Where its event goes: the detector's pass appends them together, in order, at its end. */
  emit: (e: NewEvent) => unknown = (e) => appendEvent(c, schema, e),
): Promise<void> {
  const below = m.valueAfter < BigInt(rule.threshold_nano);
  if (below === !rule.armed) return; // no crossing either way
  rule.armed = !below;
  await c.query(`UPDATE ${schema}.auto_topup_rules SET armed = $3 WHERE tenant = $1 AND account_id = $2`, [
    rule.tenant,
    rule.account_id,
    rule.armed,
  ]);
  if (!below) return;
  const counts = await c.query<{ open: number; day: number; month: number }>(
    `SELECT count(*) FILTER (WHERE status = 'requested' AND requested_at > $3::timestamptz - interval '1 day')::int AS open,
            count(*) FILTER (WHERE requested_at >= date_trunc('day', $3::timestamptz))::int AS day,
            count(*) FILTER (WHERE requested_at >= date_trunc('month', $3::timestamptz))::int AS month
       FROM ${schema}.auto_topup_requests WHERE tenant = $1 AND account_id = $2`,
    [rule.tenant, rule.account_id, m.at],
  );
  const n = counts.rows[0]!;
  const base = { tenant: rule.tenant, accountId: rule.account_id, occurredAt: m.at };
  const amount = topUpAmount(
    {
      amountNano: rule.amount_nano === null ? null : BigInt(rule.amount_nano),
      targetNano: rule.target_nano === null ? null : BigInt(rule.target_nano),
    },
    m.valueAfter,
  );
  const reason =
    n.open > 0
      ? 'request_open'
      : n.day >= rule.max_per_day
        ? 'max_per_day'
        : n.month >= rule.max_per_month
          ? 'max_per_month'
          : amount <= 0n
            ? 'nothing_to_add'
            : null;
  if (reason) {
    await emit({
      ...base,
      id: `${m.eventId}:capped`,
      type: 'autotopup.capped',
      payload: { reason, balanceId: rule.balance_id },
    });
    return;
  }
  const requestId = randomUUID();
  await c.query(
    `INSERT INTO ${schema}.auto_topup_requests (id, tenant, account_id, amount_nano, status, requested_at)
     VALUES ($1, $2, $3, $4, 'requested', $5)`,
    [requestId, rule.tenant, rule.account_id, `${amount}`, m.at],
  );
  await emit({
    ...base,
    id: `${m.eventId}:requested`,
    type: 'autotopup.requested',
    payload: {
      requestId,
      amount: nanoToDecimal(amount),
      balanceId: rule.balance_id,
      balance: nanoToDecimal(m.valueAfter),
    },
  });
}

export type ResultOutcome = 'recorded' | 'replayed' | 'unknown' | 'conflict';

/** The CRM's report on one request; moves no money (a success was topped up through the credits route). */
export async function reportResult(
  pool: Pool,
  schema: string,
  tenant: string,
  accountId: string,
  r: { requestId: string; outcome: 'succeeded' | 'failed'; reference: string },
): Promise<ResultOutcome> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const req = await c.query<{ status: string; result_reference: string | null }>(
      `SELECT status, result_reference FROM ${schema}.auto_topup_requests
        WHERE id = $1 AND tenant = $2 AND account_id = $3 FOR UPDATE`,
      [r.requestId, tenant, accountId],
    );
    const row = req.rows[0];
    if (!row) return await done(c, 'unknown');
    if (row.status !== 'requested')
      return await done(
        c,
        row.status === r.outcome && row.result_reference === r.reference ? 'replayed' : 'conflict',
      );
    await c.query(
      `UPDATE ${schema}.auto_topup_requests SET status = $2, resolved_at = now(), result_reference = $3 WHERE id = $1`,
      [r.requestId, r.outcome, r.reference],
    );
    const rule = await c.query<{ consecutive_failures: number; enabled: boolean }>(
      `UPDATE ${schema}.auto_topup_rules
          SET consecutive_failures = CASE WHEN $3 THEN 0 ELSE consecutive_failures + 1 END,
              enabled = enabled AND ($3 OR consecutive_failures + 1 < ${MAX_FAILURES})
        WHERE tenant = $1 AND account_id = $2 RETURNING consecutive_failures, enabled`,
      [tenant, accountId, r.outcome === 'succeeded'],
    );
    const after = rule.rows[0];
    if (after && !after.enabled && after.consecutive_failures === MAX_FAILURES)
      await appendEvent(c, schema, {
        tenant,
        accountId,
        id: `autotopup.disabled:${r.requestId}`,
        type: 'autotopup.disabled',
        payload: { reason: 'consecutive_failures', failures: MAX_FAILURES },
      });
    await c.query('COMMIT');
    return 'recorded';
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

async function done(c: PoolClient, o: ResultOutcome): Promise<ResultOutcome> {
  await c.query('ROLLBACK');
  return o;
}
