/**
 * A database made by a version that claimed CDR ids across tenants keeps working: at start its
 * claims get their tenants (from their stored CDRs, else their file's, else every tenant's) and the
 * table is keyed by (tenant, cdr_id), once; what was a duplicate stays one in its tenant.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureJobsSchema } from '../../src/cdr/jobs.js';
import { CopyBuffer, copyRow } from '../../src/cdr/rows.js';
import { claimCdrs, ensureCdrSchema, ensurePartitions } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();
const AT = '2026-11-20T10:00:00Z';

/** The claims table as the version before this one made it. */
const OLD_CDR_IDS = (s: string) =>
  `CREATE TABLE ${s}.cdr_ids (cdr_id text PRIMARY KEY, answer_time timestamptz NOT NULL, file_id text NOT NULL, content_hash integer)`;

async function storedCdr(id: string, tenant: string, fileId: string): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.rated_cdrs (cdr_id, tenant, account_id, subscriber, category, service, destination,
       answer_time, usage, rated_usage, cost_nano, currency, charged_nano, file_id, line)
     VALUES ($1, $2, 'a1', '447700900001', 'call', 'voice', '+447911123456', $3, 60, 60, 1, 'GBP', 1, $4, 2)`,
    [id, tenant, AT, fileId],
  );
}

async function oldClaim(id: string, fileId: string, hash: number): Promise<void> {
  await pool.query(`INSERT INTO ${schema}.cdr_ids VALUES ($1, $2, $3, $4)`, [id, AT, fileId, hash]);
}

async function primaryKey(table = 'cdr_ids'): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT a.attname AS col FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(n, ord)
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
      WHERE c.conrelid = '${schema}.${table}'::regclass AND c.contype = 'p' ORDER BY k.ord`,
  );
  return rows.map((r) => r.col);
}

const claims = async () =>
  (
    await pool.query(
      `SELECT tenant, cdr_id, file_id, content_hash FROM ${schema}.cdr_ids ORDER BY cdr_id, tenant`,
    )
  ).rows;

beforeAll(async () => {
  // Today's tables, but cdr_ids as it was, holding claims made before the upgrade.
  await ensureCdrSchema(pool, schema);
  await ensureJobsSchema(pool, schema);
  await pool.query(`DROP TABLE ${schema}.cdr_ids`);
  await pool.query(OLD_CDR_IDS(schema));
  await pool.query(`DROP TABLE ${schema}.cdr_files`);
  await pool.query(`CREATE TABLE ${schema}.cdr_files (file_id text PRIMARY KEY, fingerprint text NOT NULL,
    lines_done bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(
    `INSERT INTO ${schema}.cdr_files (file_id, fingerprint, lines_done) VALUES ('f1', 'x', 7)`,
  );
  const client = await pool.connect();
  await ensurePartitions(client, schema, ['2026-11']);
  client.release();
  await storedCdr('c1', 'acme', 'f1');
  await storedCdr('c2', 'globex', 'f2');
  await storedCdr('c3', 'acme', 'f3');
  await storedCdr('c3b', 'globex', 'f3');
  await pool.query(
    `INSERT INTO ${schema}.cdr_jobs (id, tenant, file, status) VALUES ('job-1', 'initech', 'x', 'done')`,
  );
  await oldClaim('c1', 'f1', 11);
  await oldClaim('c2', 'f2', 12);
  await oldClaim('c3', 'f3', 13);
  await oldClaim('c3b', 'f3', 14);
  // Claims whose stored CDR is gone (a partition dropped since, say).
  await oldClaim('o1', 'f1', 21); // its file's CDRs are acme's
  await oldClaim('o3', 'f3', 23); // its file's are acme's and globex's
  await oldClaim('o4', 'job-1', 24); // its file was initech's upload
  await oldClaim('o5', 'lost', 25); // nothing tells
});

describe('upgrading claims keyed by id alone', () => {
  it('gives each claim its tenant and keys the table by (tenant, cdr_id)', async () => {
    await ensureCdrSchema(pool, schema);
    expect(await primaryKey()).toEqual(['tenant', 'cdr_id']);
    expect((await claims()).map((r) => [r.cdr_id, r.tenant, r.file_id, r.content_hash])).toEqual([
      ['c1', 'acme', 'f1', 11],
      ['c2', 'globex', 'f2', 12],
      ['c3', 'acme', 'f3', 13],
      ['c3b', 'globex', 'f3', 14],
      ['o1', 'acme', 'f1', 21],
      ['o3', 'acme', 'f3', 23],
      ['o3', 'globex', 'f3', 23],
      ['o4', 'initech', 'job-1', 24],
      ['o5', 'acme', 'lost', 25],
      ['o5', 'globex', 'lost', 25],
      ['o5', 'initech', 'lost', 25],
    ]);
  });

  it('keeps checkpoints per file and tenant (an old one belongs to no tenant)', async () => {
    expect(await primaryKey('cdr_files')).toEqual(['file_id', 'tenant']);
    const { rows } = await pool.query(
      `SELECT file_id, tenant, lines_done::int AS n FROM ${schema}.cdr_files`,
    );
    expect(rows).toEqual([{ file_id: 'f1', tenant: '', n: 7 }]);
  });

  it('runs once: starting again changes nothing', async () => {
    const before = await claims();
    await ensureCdrSchema(pool, schema);
    expect(await claims()).toEqual(before);
    expect(await primaryKey()).toEqual(['tenant', 'cdr_id']);
  });

  it('an upgraded claim is a duplicate in its own tenant only', async () => {
    const rows = new CopyBuffer(16, 1);
    for (const [tenant, id] of [
      ['acme', 'c1'],
      ['globex', 'c1'],
      ['globex', 'o1'],
      ['initech', 'o3'],
      ['initech', 'o5'],
    ])
      rows.append(`${copyRow([tenant!, id!, AT, 'f9', 0])}\n`);
    const { bytes, ends } = rows.take();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      expect(await claimCdrs(client, schema, bytes, ends)).toEqual([false, true, true, true, false]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
