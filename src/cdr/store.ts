/**
 * Rated CDRs in PostgreSQL: a table partitioned by month (partitions made on demand), a claim table
 * that makes each CDR count once across all partitions, a rejects table keyed by file and line,
 * and the batches being charged (batches.ts). A CDR is known by its tenant and its id (switches of
 * different operators number their records alike). A batch claims its CDRs first, in the
 * transaction that later stores its rows: CDRs already claimed are duplicates, and a batch that
 * does not commit leaves no claim behind.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ensureColumnDefault, ensureColumnType, ensurePrimaryKey } from '../storage/migrate.js';
import { ensureAdjustmentsTable } from '../billing/run/adjustments.js';
import type { CdrReject } from './format.js';
import { CLAIM_COLUMNS, RATED_COLUMNS } from './rows.js';
import { keyClaimsByTenant } from './upgrade.js';

export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}

export async function ensureCdrSchema(pool: Pool, schema: string): Promise<void> {
  const s = checkSchema(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.rated_cdrs (
    cdr_id text NOT NULL, tenant text NOT NULL, account_id text NOT NULL, subscriber text NOT NULL,
    category text NOT NULL, service text NOT NULL, destination text NOT NULL, answer_time timestamptz NOT NULL,
    usage numeric NOT NULL, rated_usage numeric NOT NULL, cost_nano bigint NOT NULL, currency text NOT NULL,
    charged_nano bigint NOT NULL, breakdown json, file_id text NOT NULL, line bigint NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(), rerated int NOT NULL DEFAULT 0
  ) PARTITION BY RANGE (answer_time)`);
  // Added after the first release of the table: how many times the row was rerated.
  await pool.query(`ALTER TABLE ${s}.rated_cdrs ADD COLUMN IF NOT EXISTS rerated int NOT NULL DEFAULT 0`);
  // Billing's cut-off (billing/run/cutoff.ts): rows are stamped by the statement that stores them,
  // after the chunk took its cut-off lock, not when its transaction began. The draft of a bill reads
  // them by stored_at ranges: a BRIN index (cheap on COPY), never a per-account btree (5-7x on COPY).
  await ensureColumnDefault(pool, `${s}.rated_cdrs`, 'stored_at', 'statement_timestamp()');
  await pool.query(
    `CREATE INDEX IF NOT EXISTS rated_cdrs_stored_at ON ${s}.rated_cdrs USING brin (stored_at) WITH (autosummarize = on)`,
  );
  // A rerate's difference to a stored CDR is a row of its own (billing.md E.2).
  await ensureAdjustmentsTable(pool, s);
  // Breakdowns are kept as written (json): converting millions of them to jsonb halves COPY's pace.
  await ensureColumnType(pool, `${s}.rated_cdrs`, 'breakdown', 'json');
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${s}.cdr_ids (tenant text NOT NULL, cdr_id text NOT NULL, answer_time timestamptz NOT NULL,
      file_id text NOT NULL, content_hash integer, PRIMARY KEY (tenant, cdr_id))`,
  );
  // Added later: claims made before it have none (their repeats stay quiet duplicates).
  await pool.query(`ALTER TABLE ${s}.cdr_ids ADD COLUMN IF NOT EXISTS content_hash integer`);
  // Claims were once keyed by the id alone, across tenants.
  await keyClaimsByTenant(pool, s);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.cdr_rejects (
    file_id text NOT NULL, line bigint NOT NULL, raw text NOT NULL, reason text NOT NULL, detail text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (file_id, line))`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.cdr_files (
    file_id text NOT NULL, tenant text NOT NULL DEFAULT '', fingerprint text NOT NULL, lines_done bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (file_id, tenant))`);
  // Checkpoints were once kept per file alone (one made then is not found: its file is read whole
  // again, every CDR stored before a duplicate).
  await pool.query(`ALTER TABLE ${s}.cdr_files ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT ''`);
  await ensurePrimaryKey(pool, `${s}.cdr_files`, ['file_id', 'tenant']);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${s}.cdr_batches (
    batch_id text PRIMARY KEY, file_id text NOT NULL, status text NOT NULL, tenants text[] NOT NULL,
    accounts text[] NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
}

/** The partitions of these months ('2026-11'), created if missing (named rated_cdrs_2026_11). */
export async function ensurePartitions(client: PoolClient, schema: string, months: string[]): Promise<void> {
  for (const month of months) {
    const [y, m] = month.split('-').map(Number) as [number, number];
    const from = `${y}-${String(m).padStart(2, '0')}-01`;
    const to = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
    const name = `${schema}.rated_cdrs_${y}_${String(m).padStart(2, '0')}`;
    // Two importers meeting a new month at once: the second waits for the first to commit, then
    // finds its partition, instead of dying on a duplicate name in the catalog.
    const found = await client.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [name]);
    if (found.rows[0]!.e) continue;
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [name]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${schema}.rated_cdrs FOR VALUES FROM ('${from}') TO ('${to}')`,
    );
  }
}

/** Streams COPY text (whole rows, each ending with a line break) into a COPY statement. */
async function copy(client: PoolClient, sql: string, data: Uint8Array): Promise<void> {
  const pieces = function* () {
    for (let i = 0; i < data.length; i += 1 << 18)
      yield Buffer.from(data.buffer, data.byteOffset + i, Math.min(1 << 18, data.length - i));
  };
  await pipeline(Readable.from(pieces()), client.query(copyFrom(sql)));
}

/** Row i of COPY bytes whose rows end at `ends`, as text without its line break. */
export function rowAt(data: Uint8Array, ends: Int32Array, i: number): string {
  return Buffer.from(data.buffer, data.byteOffset, data.length).toString(
    'utf8',
    i ? ends[i - 1]! : 0,
    ends[i]! - 1,
  );
}

/** The values of a COPY text row (its escapes undone). */
function copyValues(row: string): string[] {
  return row
    .split('\t')
    .map((v) =>
      v.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c)),
    );
}

/** A CDR as claims know it: its tenant and its id. */
export interface ClaimedCdr {
  tenant: string;
  cdrId: string;
}

/** One string per (tenant, id): PostgreSQL text holds no NUL, so the pair reads back unambiguously. */
const keyOf = (tenant: string, cdrId: string) => `${tenant}\u0000${cdrId}`;

/** Column k of cdr_ids rows (CLAIM_COLUMNS order), as a query parameter. */
const column = (rows: string[][], k: number) => rows.map((x) => x[k]!);

/**
 * Claims CDRs (in the caller's transaction) from their cdr_ids COPY rows (row i ends at `ends[i]`).
 * Returns, per row, whether its CDR is new to its tenant: all of them (one COPY) unless some was
 * claimed before or repeats in the batch (then each (tenant, id) once, by INSERT ... ON CONFLICT).
 */
export async function claimCdrs(
  client: PoolClient,
  schema: string,
  claims: Uint8Array,
  ends: Int32Array,
): Promise<boolean[]> {
  if (ends.length === 0) return [];
  await client.query('SAVEPOINT claim');
  try {
    await copy(client, `COPY ${schema}.cdr_ids (${CLAIM_COLUMNS.join(', ')}) FROM STDIN`, claims);
    await client.query('RELEASE SAVEPOINT claim');
    return Array.from(ends, () => true);
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await client.query('ROLLBACK TO SAVEPOINT claim');
  }
  const rows = Array.from(ends, (_, i) => copyValues(rowAt(claims, ends, i)));
  // A CDR repeated in the batch is claimed by its first row (with that row's content).
  const r = await client.query<{ tenant: string; cdr_id: string }>(
    `INSERT INTO ${schema}.cdr_ids (tenant, cdr_id, answer_time, file_id, content_hash)
     SELECT DISTINCT ON (t, i) t, i, a::timestamptz, f, h::integer
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS x(t, i, a, f, h, n)
     ORDER BY t, i, n
     ON CONFLICT DO NOTHING RETURNING tenant, cdr_id`,
    [0, 1, 2, 3, 4].map((k) => column(rows, k)),
  );
  const claimed = new Set(r.rows.map((x) => keyOf(x.tenant, x.cdr_id)));
  // A CDR claimed now counts for its first row only.
  return rows.map((x) => claimed.delete(keyOf(x[0]!, x[1]!)));
}

/**
 * Of the rows `claimCdrs` found claimed before (fresh[i] false), the ones whose content differs
 * from the claim's: an id its tenant used for another CDR. Looked up by (tenant, id), the primary
 * key, only when a chunk has duplicates.
 */
export async function claimConflicts(
  client: PoolClient,
  schema: string,
  claims: Uint8Array,
  ends: Int32Array,
  fresh: boolean[],
): Promise<number[]> {
  const seen = fresh.flatMap((isNew, i) => (isNew ? [] : [i]));
  if (seen.length === 0) return [];
  const rows = seen.map((i) => copyValues(rowAt(claims, ends, i)));
  const r = await client.query<{ tenant: string; cdr_id: string; content_hash: string | null }>(
    `SELECT c.tenant, c.cdr_id, c.content_hash::text FROM ${schema}.cdr_ids c
       JOIN unnest($1::text[], $2::text[]) AS x(t, i) ON c.tenant = x.t AND c.cdr_id = x.i`,
    [column(rows, 0), column(rows, 1)],
  );
  const claimed = new Map(r.rows.map((x) => [keyOf(x.tenant, x.cdr_id), x.content_hash]));
  // A claim without a hash (made before hashes were kept) cannot tell: it stays a duplicate.
  return seen.filter((_, k) => {
    const [tenant, cdrId, , , hash] = rows[k]! as [string, string, string, string, string];
    const before = claimed.get(keyOf(tenant, cdrId));
    return before != null && before !== hash;
  });
}

/** Gives up claims (of CDRs that could not be charged: they may be fed again). */
export async function unclaimCdrs(client: PoolClient, schema: string, cdrs: ClaimedCdr[]): Promise<void> {
  if (cdrs.length)
    await client.query(
      `DELETE FROM ${schema}.cdr_ids c USING unnest($1::text[], $2::text[]) AS x(t, i)
        WHERE c.tenant = x.t AND c.cdr_id = x.i`,
      [cdrs.map((x) => x.tenant), cdrs.map((x) => x.cdrId)],
    );
}

/** The CDR of a cdr_ids COPY row. */
export function claimedCdr(claims: Uint8Array, ends: Int32Array, i: number): ClaimedCdr {
  const [tenant, cdrId] = copyValues(rowAt(claims, ends, i)) as [string, string];
  return { tenant, cdrId };
}

/** Stores rated CDR rows (COPY text in RATED_COLUMNS order, whole rows). */
export async function copyRatedCdrs(client: PoolClient, schema: string, rows: Uint8Array): Promise<void> {
  if (rows.length)
    await copy(client, `COPY ${schema}.rated_cdrs (${RATED_COLUMNS.join(', ')}) FROM STDIN`, rows);
}

/** Stores rejects once per (file, line); a rerun of the same file adds none. */
export async function storeRejects(
  db: Pick<Pool, 'query'>,
  schema: string,
  fileId: string,
  rejects: CdrReject[],
): Promise<number> {
  if (rejects.length === 0) return 0;
  // A line may hold a NUL (it is a reject for that), which PostgreSQL text cannot.
  const text = (v: string) => (v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v);
  const r = await db.query(
    `INSERT INTO ${checkSchema(schema)}.cdr_rejects (file_id, line, raw, reason, detail)
     SELECT $1, l, r, re, d FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS x(l, r, re, d)
     ON CONFLICT DO NOTHING`,
    [
      fileId,
      rejects.map((x) => x.line),
      rejects.map((x) => text(x.raw)),
      rejects.map((x) => x.reason),
      rejects.map((x) => text(x.detail)),
    ],
  );
  return r.rowCount ?? 0;
}

/**
 * A file as an import reads it: its id, and the tenant the import is for ('' when its lines name
 * their own). The same file imported for two tenants is two runs, each with its own checkpoint: one
 * stopped part way never makes the other skip lines.
 */
export interface ImportedFile {
  fileId: string;
  tenant: string;
}

/**
 * How far an earlier run of this file got: every line up to the returned one is stored, rejected
 * or a duplicate. 0 for a new file, or when the file under this id is not the one that ran.
 */
export async function linesDone(
  pool: Pool,
  schema: string,
  file: ImportedFile,
  fingerprint: string,
): Promise<number> {
  const r = await pool.query<{ fingerprint: string; lines_done: string }>(
    `SELECT fingerprint, lines_done::text FROM ${checkSchema(schema)}.cdr_files WHERE file_id = $1 AND tenant = $2`,
    [file.fileId, file.tenant],
  );
  const row = r.rows[0];
  if (row?.fingerprint === fingerprint) return Number(row.lines_done);
  await pool.query(
    `INSERT INTO ${schema}.cdr_files (file_id, tenant, fingerprint, lines_done) VALUES ($1, $2, $3, 0)
     ON CONFLICT (file_id, tenant) DO UPDATE SET fingerprint = $3, lines_done = 0, updated_at = now()`,
    [file.fileId, file.tenant, fingerprint],
  );
  return 0;
}

/** A file read to its end needs no checkpoint: fed again, it is read whole (its rejects retried). */
export async function forgetLinesDone(pool: Pool, schema: string, file: ImportedFile): Promise<void> {
  await pool.query(`DELETE FROM ${checkSchema(schema)}.cdr_files WHERE file_id = $1 AND tenant = $2`, [
    file.fileId,
    file.tenant,
  ]);
}

/** In a chunk's transaction: the file is done up to `line`. */
export async function markLinesDone(
  client: PoolClient,
  schema: string,
  file: ImportedFile,
  line: number,
): Promise<void> {
  await client.query(
    `UPDATE ${schema}.cdr_files SET lines_done = GREATEST(lines_done, $3), updated_at = now()
      WHERE file_id = $1 AND tenant = $2`,
    [file.fileId, file.tenant, line],
  );
}
