/**
 * Bill periods per account (billing.md E.1, E.3 step 2): the first runs from the profile's creation
 * to the next anchor of its cycle day; a period whose end has passed is closed (grace_until = end +
 * grace hours) and the next one opened from its end, with the cycle day the profile has then (a
 * changed cycle day takes effect from the next period). Periods tile time: each starts where the
 * previous ended (core/periods.ts computes the anchors in the account's zone).
 */
import type { PoolClient } from 'pg';
import { mapInTurns } from '../../infra/turns.js';
import { nextAnchor } from '../core/periods.js';
import { BILLABLE_SQL, type BillingAccount } from './accounts.js';
import { checkSchema } from './schema.js';

const HOUR_MS = 3_600_000;

interface Latest {
  accountId: string;
  seq: number;
  start: Date;
  end: Date;
  status: string;
}

interface PeriodWrite {
  accountId: string;
  seq: number;
  start: number;
  end: number;
  graceUntil: number | null;
  status: 'open' | 'closed';
}

/** The periods to write for one account so that its open period ends after asOf. */
export function advance(a: BillingAccount, latest: Latest | undefined, asOfMs: number): PeriodWrite[] {
  const out: PeriodWrite[] = [];
  let cur: PeriodWrite;
  if (!latest) {
    const start = a.createdAt.getTime();
    cur = {
      accountId: a.accountId,
      seq: 1,
      start,
      end: nextAnchor(start, a.billCycleDay, a.timezone),
      graceUntil: null,
      status: 'open',
    };
    out.push(cur);
  } else {
    if (latest.status !== 'open') return [];
    cur = {
      accountId: a.accountId,
      seq: latest.seq,
      start: latest.start.getTime(),
      end: latest.end.getTime(),
      graceUntil: null,
      status: 'open',
    };
  }
  while (cur.end <= asOfMs) {
    cur.status = 'closed';
    cur.graceUntil = cur.end + a.graceHours * HOUR_MS;
    if (!out.includes(cur)) out.push(cur);
    const next: PeriodWrite = {
      accountId: a.accountId,
      seq: cur.seq + 1,
      start: cur.end,
      end: nextAnchor(cur.end, a.billCycleDay, a.timezone),
      graceUntil: null,
      status: 'open',
    };
    out.push(next);
    cur = next;
  }
  return out;
}

/** Closes the chunk's periods that ended by asOf and opens their successors; returns how many closed. */
export async function closePeriods(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  accounts: BillingAccount[],
  asOfMs: number,
): Promise<number> {
  if (accounts.length === 0) return 0;
  const s = checkSchema(schema);
  const r = await db.query<Latest>(
    `SELECT DISTINCT ON (account_id) account_id AS "accountId", seq, period_start AS start, period_end AS "end", status
       FROM ${s}.bill_periods WHERE tenant = $1 AND account_id = ANY($2::text[])
      ORDER BY account_id, seq DESC`,
    [tenant, accounts.map((a) => a.accountId)],
  );
  const latest = new Map(r.rows.map((x) => [x.accountId, x]));
  // In slices (a zone's calendar per account): the engine's charging waits no longer than one.
  const writes = (await mapInTurns(accounts, (a) => advance(a, latest.get(a.accountId), asOfMs))).flat();
  if (writes.length === 0) return 0;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  await db.query(
    `INSERT INTO ${s}.bill_periods (tenant, account_id, seq, period_start, period_end, grace_until, status)
     SELECT $1, * FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::text[])
     ON CONFLICT (tenant, account_id, seq) DO UPDATE SET status = EXCLUDED.status, grace_until = EXCLUDED.grace_until
       WHERE ${s}.bill_periods.status = 'open'`,
    [
      tenant,
      writes.map((w) => w.accountId),
      writes.map((w) => w.seq),
      writes.map((w) => iso(w.start)),
      writes.map((w) => iso(w.end)),
      writes.map((w) => iso(w.graceUntil)),
      writes.map((w) => w.status),
    ],
  );
  return writes.filter((w) => w.status === 'closed').length;
}

/**
 * Whether closePeriods has anything to do for the run's billable accounts (`only`: the listed ones):
 * one without a period yet, or an open period that ended by asOf (an account's open period is its
 * latest: advance writes it last). False for a rerun of a done run, which then walks no chunk.
 */
export async function anyToClose(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  asOfMs: number,
  only?: string[],
): Promise<boolean> {
  const s = checkSchema(schema);
  const mine = `a.tenant = $1 AND ${BILLABLE_SQL} AND ($3::text[] IS NULL OR a.account_id = ANY($3::text[]))`;
  const r = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${s}.billing_accounts a WHERE ${mine}
              AND NOT EXISTS (SELECT 1 FROM ${s}.bill_periods p WHERE p.tenant = a.tenant AND p.account_id = a.account_id))
         OR EXISTS (SELECT 1 FROM ${s}.bill_periods p JOIN ${s}.billing_accounts a USING (tenant, account_id)
              WHERE p.tenant = $1 AND p.status = 'open' AND p.period_end <= $2::timestamptz AND ${mine}) AS any`,
    [tenant, new Date(asOfMs).toISOString(), only ?? null],
  );
  return r.rows[0]!.any;
}
