/**
 * PostgreSQL side of rerating, set-based: the period is read once (COPY TO), the CDRs whose price
 * changed are written through COPY into `cdr_rerate_pending` (a journal: a rerate stopped part way
 * finds them there), and one `UPDATE … FROM` applies them all, pruned to the partitions they fall in.
 * No per-row index is needed on rated_cdrs (one would slow every import).
 */
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { PENDING_COLUMNS, type MoneyMove } from './rerate-worker.js';
import { checkSchema, type ClaimedCdr } from './store.js';
import { adjustmentsTable, earlierDeltasSql } from '../billing/run/adjustments.js';
import { lockCutShared } from '../billing/run/cutoff.js';

export interface RerateRange {
  from: string;
  to: string;
  tenant?: string;
  accountId?: string;
}

/**
 * One rerate at a time per schema: two would each read rows the other is changing. Taken on the
 * connection that reads; it goes when that connection does (a killed rerate leaves no lock). A
 * rerate waits a little for one that is ending, then refuses rather than hang.
 */
export async function lockRerates(client: PoolClient, schema: string, waitSeconds = 10): Promise<void> {
  // At least 1 ms: a lock_timeout of 0 would mean waiting for ever.
  await client.query(`SET lock_timeout = '${Math.max(1, Math.round(waitSeconds * 1000))}ms'`);
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [`${checkSchema(schema)}.cdr_rerate`]);
  } catch (e) {
    if ((e as { code?: string }).code !== '55P03') throw e; // lock_not_available
    throw new Error(`another rerate of schema ${schema} is running: try again when it has finished`);
  }
  await client.query(`SET lock_timeout = 0`);
}

export async function ensurePendingTable(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  // Logged, without an index: a few percent of a period at a time, read back only after a crash.
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.cdr_rerate_pending (
    cdr_id text NOT NULL, answer_time timestamptz NOT NULL, tenant text NOT NULL, account_id text NOT NULL,
    rerated int NOT NULL, cost_nano bigint NOT NULL, charged_delta_nano bigint NOT NULL,
    rated_usage numeric NOT NULL, breakdown json)`);
}

/** The stored CDRs of the range as COPY text (RERATE_READ_COLUMNS), `rows` rows at a time (the last fewer). */
export async function* readPeriod(
  client: PoolClient,
  schema: string,
  range: RerateRange,
  rows: number,
): AsyncGenerator<string> {
  const s = checkSchema(schema);
  const lit = (v: string) => client.escapeLiteral(v);
  const where = [
    `answer_time >= ${lit(range.from)}::timestamptz`,
    `answer_time < ${lit(range.to)}::timestamptz`,
    ...(range.tenant ? [`tenant = ${lit(range.tenant)}`] : []),
    ...(range.accountId ? [`account_id = ${lit(range.accountId)}`] : []),
  ].join(' AND ');
  // ISO times are read back the same whatever the DateStyle of the connection that writes them.
  await client.query(`SET DateStyle = 'ISO'`);
  // What a CDR took is its charged_nano (never changed) plus its earlier rerates' differences,
  // looked up only for the rows rerated before.
  const charged = `charged_nano + CASE WHEN rerated > 0 THEN ${earlierDeltasSql(s, 'cdr', 'tenant', 'cdr_id')} ELSE 0 END`;
  const stream = client.query(
    copyTo(`COPY (SELECT tenant, account_id, cdr_id, answer_time,
        floor(extract(epoch FROM answer_time) * 1000)::bigint, category, service, destination,
        usage, cost_nano, ${charged}, rerated
      FROM ${s}.rated_cdrs WHERE ${where}) TO STDOUT`),
  );
  yield* wholeRows(stream, rows);
}

/** Text of `rows` whole rows at a time (the last piece fewer) cut from a stream of bytes. */
async function* wholeRows(stream: AsyncIterable<Buffer>, rows: number): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let text = '';
  let seen = 0; // line breaks in text
  for await (const bytes of stream) {
    const piece = decoder.write(bytes);
    for (let at = piece.indexOf('\n'); at >= 0; at = piece.indexOf('\n', at + 1)) seen++;
    text += piece;
    for (; seen >= rows; seen -= rows) {
      let end = -1;
      for (let k = 0; k < rows; k++) end = text.indexOf('\n', end + 1);
      yield text.slice(0, end + 1);
      text = text.slice(end + 1);
    }
  }
  text += decoder.end();
  if (text) yield text;
}

export async function copyPending(pool: Pool, schema: string, text: string): Promise<void> {
  const client = await pool.connect();
  try {
    await pipeline(
      Readable.from([Buffer.from(text, 'utf8')]),
      client.query(
        copyFrom(`COPY ${checkSchema(schema)}.cdr_rerate_pending (${PENDING_COLUMNS.join(', ')}) FROM STDIN`),
      ),
    );
  } finally {
    client.release();
  }
}

/** Forgets pending CDRs whose money could not move: they keep their old price. */
export async function dropPending(pool: Pool, schema: string, cdrs: ClaimedCdr[]): Promise<void> {
  await pool.query(
    `DELETE FROM ${checkSchema(schema)}.cdr_rerate_pending p USING unnest($1::text[], $2::text[]) AS x(t, i)
      WHERE p.tenant = x.t AND p.cdr_id = x.i`,
    [cdrs.map((x) => x.tenant), cdrs.map((x) => x.cdrId)],
  );
}

/** The money moves of pending CDRs (a stopped rerate's, to move again: replays where already moved). */
export async function pendingMoves(pool: Pool, schema: string): Promise<MoneyMove[]> {
  const { rows } = await pool.query<MoneyMove>(
    `SELECT tenant, account_id AS "accountId", cdr_id AS "cdrId", rerated, charged_delta_nano::text AS "deltaNano"
       FROM ${checkSchema(schema)}.cdr_rerate_pending WHERE charged_delta_nano <> 0`,
  );
  return rows;
}

export async function pendingCount(pool: Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${checkSchema(schema)}.cdr_rerate_pending`,
  );
  return rows[0]!.n;
}

/**
 * Gives every pending CDR its new price and bumps its rerate counter, then empties the journal, in
 * one transaction. A row is its tenant's CDR (another tenant may use the same id). The time bounds
 * let the planner keep only the partitions concerned; the row's counter must still be the one
 * priced, so a row is never applied twice.
 */
export async function applyPending(client: PoolClient, schema: string): Promise<number> {
  const s = checkSchema(schema);
  await client.query('BEGIN');
  try {
    // The differences are billable rows: first the tenants' shared cut-off locks (billing/run/cutoff.ts).
    const tenants = await client.query<{ tenant: string }>(
      `SELECT DISTINCT tenant FROM ${s}.cdr_rerate_pending`,
    );
    await lockCutShared(
      client,
      s,
      tenants.rows.map((x) => x.tenant),
    );
    // As text: a JS Date would drop the microseconds of the bounds.
    const { rows } = await client.query<{ lo: string | null; hi: string | null }>(
      `SELECT min(answer_time)::text AS lo, max(answer_time)::text AS hi FROM ${s}.cdr_rerate_pending`,
    );
    const { lo, hi } = rows[0]!;
    let updated = 0;
    if (lo && hi) {
      // charged_nano stays what the CDR took when stored (billable rows are append-only): the money
      // a rerate moves is a usage_adjustments row, under the op id of its balance operation.
      const r = await client.query(
        `WITH u AS (UPDATE ${s}.rated_cdrs t
            SET cost_nano = p.cost_nano, breakdown = p.breakdown, rated_usage = p.rated_usage, rerated = t.rerated + 1
           FROM ${s}.cdr_rerate_pending p
          WHERE t.answer_time >= $1::timestamptz AND t.answer_time <= $2::timestamptz
            AND t.tenant = p.tenant AND t.cdr_id = p.cdr_id AND t.answer_time = p.answer_time
            AND t.rerated = p.rerated
          RETURNING t.tenant, t.account_id, t.cdr_id, t.service, t.category, t.answer_time, p.rerated, p.charged_delta_nano),
         a AS (INSERT INTO ${adjustmentsTable(s)} (tenant, account_id, source, source_id, reason, tor, category, event_time, delta_charged_nano, op_id)
          SELECT tenant, account_id, 'cdr', cdr_id, 'rerate', service, category, answer_time, charged_delta_nano,
                 'rerate:' || cdr_id || ':' || rerated
            FROM u WHERE charged_delta_nano <> 0
          ON CONFLICT (tenant, op_id) DO NOTHING)
         SELECT count(*) FROM u`,
        [lo, hi],
      );
      updated = Number((r.rows[0] as { count: string }).count);
      await client.query(`DELETE FROM ${s}.cdr_rerate_pending`);
    }
    await client.query('COMMIT');
    return updated;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
