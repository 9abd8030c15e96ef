/**
 * An off-cycle invoice (billing.md E.4 `POST /v1/accounts/{id}/invoices`, e.g. the final bill at an
 * account's closure): the account's current bill period is closed early at the request's instant T
 * and the next one opened at T (periods still tile time), then a run as of T for that one account
 * drafts and issues it — the run's own close, cut-off, membership, drafting and finalization.
 *
 * Two steps, so a retry is safe: `closeEarly` commits with the request's reference (a replay finds
 * the stored answer and never closes a second period), then `issueOffCycle` runs as of T; a run row
 * is unique per (tenant, asOf), so the same T again resumes that run and drafts nothing twice. A bill
 * closed but not yet issued (the run could not start: another held the lock) is due at once, so a
 * replay of the request or the next scheduled run issues it.
 */
import type { PoolClient } from 'pg';
import { nextAnchor } from '../core/periods.js';
import { formatMoney } from '../core/currency.js';
import { DocumentError } from '../documents/model.js';
import { accountsChunk } from './accounts.js';
import { closePeriods } from './bill-periods.js';
import { lockRunIn } from './refresh.js';
import { runBilling, RunInProgressError, type RunDeps } from './run.js';
import { checkSchema } from './schema.js';

export interface EarlyClose {
  accountId: string;
  billSeq: number;
  periodStart: string;
  /** T: the request's instant, where the bill ends and the next period starts. */
  periodEnd: string;
  next: { billSeq: number; periodStart: string; periodEnd: string };
}

export interface OffCycleInvoice extends EarlyClose {
  /** The run as of T (null when another run held the tenant's lock): GET /v1/billing/runs/{id} follows it. */
  runId: string | null;
  invoice: { id: string; status: string; number: string | null; currency: string; total: string } | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * In the caller's transaction: the account's periods brought up to T by the run's close, then its open
 * period ends at T (closed, due at once) and the next opens there. Closed bills still in their grace
 * are made due at T too: the account's bills are drafted oldest first in one cut-off, never a later
 * one before an earlier one (which would take the earlier one's rows).
 */
export async function closeEarly(
  c: PoolClient,
  schema: string,
  tenant: string,
  accountId: string,
  atMs: number,
): Promise<EarlyClose> {
  const s = checkSchema(schema);
  const account = (await accountsChunk(c, s, tenant, '', 1, [accountId]))[0];
  if (!account) throw new DocumentError('ACCOUNT_NOT_FOUND', `no billing profile for account ${accountId}`);
  if (account.parkedCode !== null || account.invoiceMode === 'none')
    throw new DocumentError(
      'ACCOUNT_NOT_BILLABLE',
      account.parkedCode !== null
        ? `account ${accountId} is parked (${account.parkedCode}): unpark it first`
        : `account ${accountId} gets no documents (invoice mode none)`,
    );
  await lockRunIn(c, s, tenant);
  await closePeriods(c, s, tenant, [account], atMs);
  const r = await c.query<{ seq: number; start: Date }>(
    `SELECT seq, period_start AS start FROM ${s}.bill_periods
      WHERE tenant = $1 AND account_id = $2 AND status = 'open' ORDER BY seq DESC LIMIT 1 FOR UPDATE`,
    [tenant, accountId],
  );
  const open = r.rows[0]!; // closePeriods leaves every billable account with an open period after T
  if (open.start.getTime() >= atMs)
    throw new DocumentError('CONFLICT', `the current bill period of ${accountId} starts at this instant`);
  const at = iso(atMs);
  await c.query(
    `UPDATE ${s}.bill_periods SET grace_until = $3::timestamptz
      WHERE tenant = $1 AND account_id = $2 AND status = 'closed' AND grace_until > $3::timestamptz`,
    [tenant, accountId, at],
  );
  await c.query(
    `UPDATE ${s}.bill_periods SET period_end = $4::timestamptz, grace_until = $4::timestamptz, status = 'closed'
      WHERE tenant = $1 AND account_id = $2 AND seq = $3`,
    [tenant, accountId, open.seq, at],
  );
  const nextEnd = iso(nextAnchor(atMs, account.billCycleDay, account.timezone));
  await c.query(
    `INSERT INTO ${s}.bill_periods (tenant, account_id, seq, period_start, period_end, status)
     VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, 'open')`,
    [tenant, accountId, open.seq + 1, at, nextEnd],
  );
  return {
    accountId,
    billSeq: open.seq,
    periodStart: open.start.toISOString(),
    periodEnd: at,
    next: { billSeq: open.seq + 1, periodStart: at, periodEnd: nextEnd },
  };
}

/**
 * The run as of T for the one account (renewals left to the scheduled runs: this bills what is
 * stored), then the bill's document. A requested bill is a document even at zero (zeroInvoices).
 */
export async function issueOffCycle(
  deps: RunDeps,
  tenant: string,
  closed: EarlyClose,
  requestedBy: string,
): Promise<OffCycleInvoice> {
  const { renew: _renewals, ...rest } = deps;
  let runId: string | null = null;
  try {
    const summary = await runBilling(
      { ...rest, zeroInvoices: true },
      { tenant, asOf: new Date(closed.periodEnd), accounts: [closed.accountId], requestedBy },
    );
    runId = summary.runId; // a failed run (its row says why) leaves the bill due: no invoice yet
  } catch (err) {
    if (!(err instanceof RunInProgressError)) throw err;
  }
  const s = checkSchema(deps.schema);
  const r = await deps.pool.query<{
    id: string;
    status: string;
    number: string | null;
    currency: string;
    total: string;
  }>(
    `SELECT id, status, number, trim(currency) AS currency, total_nano::text AS total FROM ${s}.invoices
      WHERE tenant = $1 AND account_id = $2 AND bill_seq = $3`,
    [tenant, closed.accountId, closed.billSeq],
  );
  const inv = r.rows[0];
  return {
    ...closed,
    runId,
    invoice: inv ? { ...inv, total: formatMoney(BigInt(inv.total), inv.currency) } : null,
  };
}
