/**
 * Which bills a run drafts: the closed bill periods of its accounts whose grace has passed, each with
 * the previous period's end and cut-off (the membership rule's E_{N-1} and C_{N-1}). One SQL
 * definition for a chunk's read (dueBills) and the run's stage (stage.ts, all accounts at once).
 */
import type { PoolClient } from 'pg';
import type { BillingAccount } from './accounts.js';
import type { Bill } from './drafts.js';
import { checkSchema } from './schema.js';

/**
 * The due bills in account, seq order, of the accounts `which` picks (a condition on `a`, their
 * billing_accounts row; `$2` is its parameter): closed periods whose grace has passed by asOf ($3),
 * with the previous period's end and cut-off — C ($4) when that period is due in this same cut-off
 * (it is drafted at C too), none for the first. `$1` is the tenant.
 */
export const dueBillsSql = (schema: string, which: string) => {
  const s = checkSchema(schema);
  return `SELECT p.account_id, p.seq, p.period_start, p.period_end, prev.period_end AS prev_end,
       CASE WHEN p.seq = 1 THEN NULL
            WHEN lag(p.seq) OVER (PARTITION BY p.account_id ORDER BY p.seq) IS NOT NULL THEN $4::timestamptz
            ELSE prev.cutoff_at END AS prev_cutoff
  FROM ${s}.bill_periods p JOIN ${s}.billing_accounts a USING (tenant, account_id)
  LEFT JOIN ${s}.bill_periods prev ON prev.tenant = p.tenant AND prev.account_id = p.account_id AND prev.seq = p.seq - 1
 WHERE p.tenant = $1 AND ${which} AND p.status = 'closed'
   AND (p.grace_until IS NULL OR p.grace_until <= $3::timestamptz)
 ORDER BY p.account_id, p.seq`;
};

/** The closed bills of these accounts whose grace has passed, oldest first, as of the cut-off C. */
export async function dueBills(
  db: Pick<PoolClient, 'query'>,
  schema: string,
  tenant: string,
  accounts: BillingAccount[],
  asOfMs: number,
  cutoffAt: string,
): Promise<Bill[]> {
  const r = await db.query<{
    account_id: string;
    seq: number;
    start: string;
    end: string;
    prev_end: string | null;
    prev_cutoff: string | null;
  }>(
    `SELECT account_id, seq, period_start::text AS start, period_end::text AS "end", prev_end::text AS prev_end,
            prev_cutoff::text AS prev_cutoff
       FROM (${dueBillsSql(schema, 'a.account_id = ANY($2::text[])')}) d ORDER BY account_id, seq`,
    [tenant, accounts.map((a) => a.accountId), new Date(asOfMs).toISOString(), cutoffAt],
  );
  const byId = new Map(accounts.map((a) => [a.accountId, a]));
  return r.rows.map((x) => ({
    account: byId.get(x.account_id)!,
    accountId: x.account_id,
    seq: x.seq,
    periodStart: x.start,
    periodEnd: x.end,
    cutoffAt,
    prevEnd: x.prev_end,
    prevCutoff: x.prev_cutoff,
  }));
}
