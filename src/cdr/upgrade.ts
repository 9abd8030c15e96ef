/**
 * Upgrades of CDR tables an older version made. Claims (`cdr_ids`) were once keyed by the CDR id
 * alone, across tenants; a CDR is now known by its tenant and its id. The upgrade runs once, at
 * start, in one transaction (a crash leaves the old table as it was), under a lock so two engines
 * starting together upgrade once. It reads rated_cdrs through once or twice: on a large table it
 * takes a while, and imports wait for it.
 */
import type { Pool, PoolClient } from 'pg';

async function hasColumn(
  db: Pool | PoolClient,
  schema: string,
  table: string,
  column: string,
): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped`,
    [schema, table, column],
  );
  return r.rowCount === 1;
}

/**
 * Gives every old claim its tenant and keys cdr_ids by (tenant, cdr_id). A claim's tenant is, in
 * this order:
 * 1. its stored CDR's (rated_cdrs, same id and time: every committed claim has one, unless its
 *    partition was dropped since);
 * 2. else, its file's: the tenant of the HTTP job that uploaded it (`cdr_jobs`), or the tenants of
 *    the file's other stored CDRs;
 * 3. else every tenant with stored CDRs or jobs, one claim each: such a CDR was charged in some
 *    tenant, and a claim in each keeps it from being charged again, as before the upgrade (at
 *    worst an id it holds is a duplicate in a tenant that never used it);
 * 4. else (nothing stored anywhere) the tenant '': it blocks nothing.
 * Rejects cannot tell: they keep lines, not which tenant a claim was for.
 */
export async function keyClaimsByTenant(pool: Pool, schema: string): Promise<void> {
  if (await hasColumn(pool, schema, 'cdr_ids', 'tenant')) return;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${schema}.cdr_ids.tenant`]);
    if (!(await hasColumn(client, schema, 'cdr_ids', 'tenant'))) await rekey(client, schema);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function rekey(client: PoolClient, s: string): Promise<void> {
  await client.query(`LOCK TABLE ${s}.cdr_ids IN ACCESS EXCLUSIVE MODE`);
  await client.query(`ALTER TABLE ${s}.cdr_ids ADD COLUMN tenant text`);
  await client.query(
    `UPDATE ${s}.cdr_ids c SET tenant = r.tenant FROM ${s}.rated_cdrs r
      WHERE r.cdr_id = c.cdr_id AND r.answer_time = c.answer_time`,
  );
  const pk = await client.query<{ conname: string }>(
    `SELECT conname FROM pg_constraint WHERE conrelid = '${s}.cdr_ids'::regclass AND contype = 'p'`,
  );
  for (const { conname } of pk.rows)
    await client.query(`ALTER TABLE ${s}.cdr_ids DROP CONSTRAINT "${conname}"`);
  const orphans = await client.query(`SELECT 1 FROM ${s}.cdr_ids WHERE tenant IS NULL LIMIT 1`);
  if (orphans.rowCount) await adoptOrphans(client, s);
  await client.query(`ALTER TABLE ${s}.cdr_ids ALTER COLUMN tenant SET NOT NULL`);
  await client.query(`ALTER TABLE ${s}.cdr_ids ADD PRIMARY KEY (tenant, cdr_id)`);
}

/** Claims without a stored CDR: each becomes a claim in each tenant steps 2–4 name (see above). */
async function adoptOrphans(client: PoolClient, s: string): Promise<void> {
  const jobs = (await client.query(`SELECT to_regclass('${s}.cdr_jobs') IS NOT NULL AS ok`)).rows[0]
    .ok as boolean;
  await client.query(`CREATE TEMP TABLE orphan_files ON COMMIT DROP AS
    SELECT DISTINCT file_id FROM ${s}.cdr_ids WHERE tenant IS NULL`);
  await client.query(`CREATE TEMP TABLE file_tenants ON COMMIT DROP AS
    SELECT DISTINCT r.file_id, r.tenant FROM ${s}.rated_cdrs r JOIN orphan_files o ON o.file_id = r.file_id
    ${jobs ? `UNION SELECT j.id, j.tenant FROM ${s}.cdr_jobs j JOIN orphan_files o ON o.file_id = j.id` : ''}`);
  await client.query(`CREATE TEMP TABLE all_tenants ON COMMIT DROP AS
    SELECT DISTINCT tenant FROM ${s}.rated_cdrs ${jobs ? `UNION SELECT tenant FROM ${s}.cdr_jobs` : ''}`);
  await client.query(`WITH orphan AS (
      DELETE FROM ${s}.cdr_ids WHERE tenant IS NULL RETURNING cdr_id, answer_time, file_id, content_hash)
    INSERT INTO ${s}.cdr_ids (tenant, cdr_id, answer_time, file_id, content_hash)
    SELECT t.tenant, o.cdr_id, o.answer_time, o.file_id, o.content_hash FROM orphan o
    CROSS JOIN LATERAL (
      SELECT f.tenant FROM file_tenants f WHERE f.file_id = o.file_id
      UNION ALL
      SELECT a.tenant FROM all_tenants a WHERE NOT EXISTS (SELECT 1 FROM file_tenants f WHERE f.file_id = o.file_id)
      UNION ALL
      SELECT '' WHERE NOT EXISTS (SELECT 1 FROM all_tenants)
    ) t`);
}
