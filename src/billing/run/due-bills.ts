/**
 * Which bills a run drafts: the closed bill periods of its accounts whose grace has passed, each with
 * the previous period's end and cut-off (the membership rule's E_{N-1} and C_{N-1}).
 */
import type { PoolClient } from 'pg';
import { BILLABLE_SQL, type BillingAccount } from './accounts.js';
import type { Bill } from './drafts.js';
import { checkSchema } from './schema.js';

/** The closed bills of these accounts whose grace has passed, oldest first, as of the cut-off C. */
export async function dueBills(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  accounts: BillingAccount[],
  asOfMs: number,
  cutoffAt: string,
  statuses: string[] = ['closed'],
): Promise<Bill[]> {
  const s = checkSchema(schema);
  const r = await db.query<{
    account_id: string;
    seq: number;
    start: string;
    end: string;
    prev_end: string | null;
    prev_cutoff: string | null;
  }>(
    `SELECT p.account_id, p.seq, p.period_start::text AS start, p.period_end::text AS "end",
            prev.period_end::text AS prev_end, prev.cutoff_at::text AS prev_cutoff
       FROM ${s}.bill_periods p LEFT JOIN ${s}.bill_periods prev
         ON prev.tenant = p.tenant AND prev.account_id = p.account_id AND prev.seq = p.seq - 1
      WHERE p.tenant = $1 AND p.account_id = ANY($2::text[]) AND p.status = ANY($4::text[])
        AND (p.grace_until IS NULL OR p.grace_until <= $3::timestamptz)
      ORDER BY p.account_id, p.seq`,
    [tenant, accounts.map((a) => a.accountId), new Date(asOfMs).toISOString(), statuses],
  );
  const byId = new Map(accounts.map((a) => [a.accountId, a]));
  const bills: Bill[] = [];
  for (const x of r.rows) {
    const before = bills.at(-1);
    // A bill drafted in this same cut-off before this one ends at C.
    const prevCutoff = before?.accountId === x.account_id ? cutoffAt : x.prev_cutoff;
    bills.push({
      account: byId.get(x.account_id)!,
      accountId: x.account_id,
      seq: x.seq,
      periodStart: x.start,
      periodEnd: x.end,
      cutoffAt,
      prevEnd: x.prev_end,
      prevCutoff: x.seq === 1 ? null : prevCutoff,
    });
  }
  return bills;
}

/**
 * Whether any billable account of the run (`only`: the listed ones) has a bill dueBills would find:
 * a closed period whose grace has passed by asOf. False for a rerun of a done run: no chunk walked.
 */
export async function anyDue(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  asOfMs: number,
  only?: string[],
): Promise<boolean> {
  const s = checkSchema(schema);
  const r = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${s}.bill_periods p JOIN ${s}.billing_accounts a USING (tenant, account_id)
        WHERE p.tenant = $1 AND p.status = 'closed' AND (p.grace_until IS NULL OR p.grace_until <= $2::timestamptz)
          AND ${BILLABLE_SQL} AND ($3::text[] IS NULL OR p.account_id = ANY($3::text[]))) AS any`,
    [tenant, new Date(asOfMs).toISOString(), only ?? null],
  );
  return r.rows[0]!.any;
}
