/**
 * The run's staged membership (issue 13, performance): one cut-off C for the whole run and one scan
 * of each billable source for all its due bills, instead of a cut-off and a scan per chunk. The
 * sources have no per-account index (a btree would cost the CDR COPY 5-7x), so a chunk's read scans
 * the whole period: 100 chunks of 1,000 accounts over 10 M CDRs read 1 G rows; staged, 10 M once.
 *
 * In the snapshot taken at C: the due bills (dueBillsSql, one statement) go to a temporary table, and
 * the usage and charge sums of all of them (the same SQL as a chunk's read, membership.ts) to two
 * more, indexed by account. The snapshot then ends (it only read); the tables stay on the stage's
 * connection, where each chunk reads its accounts' rows. Billable rows are append-only and the
 * sums were taken in the snapshot, so a chunk drafted later bills exactly what a snapshot at C saw.
 * Nothing is written but temporary tables: a run killed here leaves nothing, and a rerun stages again
 * at its own C for the bills still closed.
 */
import type { Pool, PoolClient } from 'pg';
import { BILLABLE_SQL, type BillingAccount } from './accounts.js';
import { cutOff } from './cutoff.js';
import type { Bill } from './drafts.js';
import {
  chargesSql,
  toCharge,
  toSum,
  usageSql,
  USAGE_SOURCES,
  type ChargeRow,
  type ChargeSqlRow,
  type SumRow,
  type UsageSum,
} from './membership.js';
import { dueBillsSql } from './due-bills.js';

export interface Stage {
  /** The connection holding the temporary tables (until closeStage). */
  client: PoolClient;
  cutoffAt: string;
  /** How many bills were staged (none: a rerun of a done run has nothing to read). */
  staged: number;
}

/** work_mem of the staging transaction only (SET LOCAL). */
const STAGE_WORK_MEM = '256MB';

const DROP = 'DROP TABLE IF EXISTS pg_temp.run_bills, pg_temp.run_usage, pg_temp.run_charges';

/**
 * The due bills of the run's billable accounts (`only`: the listed ones) into pg_temp.run_bills, in
 * one statement (dueBillsSql, as a chunk reads them); how many, and the scan's lower bound: the
 * earliest previous period's end, none when a first bill is due (its rows may be as old as any).
 */
async function stageBills(
  db: PoolClient,
  schema: string,
  tenant: string,
  asOfMs: number,
  cutoffAt: string,
  only?: string[],
): Promise<{ staged: number; lo: string | null }> {
  const which = `${BILLABLE_SQL} AND ($2::text[] IS NULL OR a.account_id = ANY($2::text[]))`;
  await db.query(
    `CREATE TEMP TABLE run_bills AS SELECT account_id, seq, period_start, period_end, $4::timestamptz AS cutoff_at,
       prev_end, prev_cutoff FROM (${dueBillsSql(schema, which)}) d`,
    [tenant, only ?? null, new Date(asOfMs).toISOString(), cutoffAt],
  );
  await db.query('CREATE INDEX ON pg_temp.run_bills (account_id)');
  await db.query('ANALYZE pg_temp.run_bills');
  const r = await db.query<{ staged: number; lo: string | null; unbounded: boolean | null }>(
    `SELECT count(*)::int AS staged, min(prev_end)::text AS lo, bool_or(prev_end IS NULL) AS unbounded
       FROM pg_temp.run_bills`,
  );
  const x = r.rows[0]!;
  return { staged: x.staged, lo: x.unbounded === true ? null : x.lo };
}

/**
 * The usage and charge sums of every staged bill: one scan of each source. With no bill due (a rerun
 * of a done run) the tables are made empty without reading the sources: the planner would otherwise
 * scan them whole against the empty table (65 s of a 98 s rerun at 100,000 accounts).
 */
async function stageSums(
  db: PoolClient,
  schema: string,
  tenant: string,
  b: { staged: number; lo: string | null },
) {
  const w = 'pg_temp.run_bills w';
  const usage = USAGE_SOURCES.map((src) => usageSql(schema, src, w, '$2::timestamptz')).join(' UNION ALL ');
  const data = b.staged > 0 ? 'WITH DATA' : 'WITH NO DATA';
  // The join's row estimate is ~10x low, so the planner sorts the joined rows (1 M at 10,000
  // accounts, text keys compared by collation: 2 of the statement's 3.5 s) for a GroupAggregate;
  // hashing them into the few groups per bill is what fits (EXPLAIN ANALYZE: 3.5 -> 2.5 s).
  await db.query('SET LOCAL enable_sort = off');
  await db.query(`CREATE TEMP TABLE run_usage AS ${usage} ${data}`, [tenant, b.lo]);
  await db.query('SET LOCAL enable_sort = on');
  const charges = chargesSql(schema, w, '$2::timestamptz');
  await db.query(`CREATE TEMP TABLE run_charges AS ${charges} ${data}`, [tenant, b.lo]);
  await db.query('CREATE INDEX ON pg_temp.run_usage (account_id)');
  await db.query('CREATE INDEX ON pg_temp.run_charges (account_id)');
  await db.query('ANALYZE pg_temp.run_usage, pg_temp.run_charges');
}

/** The cut-off for the whole run and its staged sums (the caller ends it with closeStage). */
export async function openStage(
  pool: Pool,
  schema: string,
  tenant: string,
  asOfMs: number,
  only?: string[],
): Promise<Stage> {
  const cut = await cutOff(pool, schema, tenant);
  const db = cut.snapshot;
  try {
    // The sums are one hash aggregate of a few rows per bill (~400k groups for 100k accounts, ~100 MB):
    // with the default 4 MB PostgreSQL sorts the joined rows on disk instead (5x slower).
    await db.query(`SET LOCAL work_mem = '${STAGE_WORK_MEM}'`);
    // The staging statement's estimated cost sets off PostgreSQL's JIT, whose compilation of its ~140
    // expressions took 5-7 s on this box (EXPLAIN ANALYZE, 200 k CDRs: 7.1 s with, 1.9 s without);
    // the scan it would speed up is shorter than that even at 10 M rows.
    await db.query('SET LOCAL jit = off');
    await db.query(DROP);
    const bills = await stageBills(db, schema, tenant, asOfMs, cut.cutoffAt, only);
    await stageSums(db, schema, tenant, bills);
    await db.query('COMMIT');
    return { client: db, cutoffAt: cut.cutoffAt, staged: bills.staged };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    db.release(err as Error); // closed: its temporary tables go with it
    throw err;
  }
}

export async function closeStage(stage: Stage): Promise<void> {
  const failed = await stage.client.query(DROP).then(
    () => undefined,
    (e: Error) => e,
  );
  stage.client.release(failed);
}

export interface StagedChunk {
  bills: Bill[];
  usage: UsageSum[];
  charges: ChargeRow[];
}

/** The staged bills, usage and charges of these accounts (their bills in account, seq order). */
export async function readStage(stage: Stage, accounts: BillingAccount[]): Promise<StagedChunk> {
  if (stage.staged === 0 || accounts.length === 0) return { bills: [], usage: [], charges: [] };
  const byId = new Map(accounts.map((a) => [a.accountId, a]));
  // Chunks are runs of account ids in order: a range is an index scan, where `= ANY(1,000 ids)`
  // planned a scan of the whole table comparing each row with every id (quadratic in accounts).
  const ids = [accounts[0]!.accountId, accounts.at(-1)!.accountId];
  const mine = <T extends { account_id: string }>(rows: T[]) => rows.filter((x) => byId.has(x.account_id));
  const db = stage.client;
  const b = await db.query<{
    account_id: string;
    seq: number;
    start: string;
    end: string;
    prev_end: string | null;
    prev_cutoff: string | null;
  }>(
    `SELECT account_id, seq, period_start::text AS start, period_end::text AS "end", prev_end::text AS prev_end,
            prev_cutoff::text AS prev_cutoff
       FROM pg_temp.run_bills WHERE account_id BETWEEN $1 AND $2 ORDER BY account_id, seq`,
    ids,
  );
  const u = await db.query<SumRow>(
    `SELECT * FROM pg_temp.run_usage WHERE account_id BETWEEN $1 AND $2
      ORDER BY account_id, seq, source, tor, category, late, reason`,
    ids,
  );
  const c = await db.query<ChargeSqlRow>(
    `SELECT * FROM pg_temp.run_charges WHERE account_id BETWEEN $1 AND $2 ORDER BY account_id, seq, ord`,
    ids,
  );
  const bills = mine(b.rows).map((x) => ({
    account: byId.get(x.account_id)!,
    accountId: x.account_id,
    seq: x.seq,
    periodStart: x.start,
    periodEnd: x.end,
    cutoffAt: stage.cutoffAt,
    prevEnd: x.prev_end,
    prevCutoff: x.prev_cutoff,
  }));
  return { bills, usage: mine(u.rows).map(toSum), charges: mine(c.rows).map(toCharge) };
}
