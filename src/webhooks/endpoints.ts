/**
 * Webhook endpoints of a tenant (the store; checks of URLs and types are the caller's, service.ts).
 * Another tenant's endpoint is not found. The secret is answered once, when made or rotated; stored
 * sealed (secret-box.ts). A rotation keeps the previous secret signing until `old_secret_until`.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { newSecret } from './signature.js';
import type { SecretBox } from './secret-box.js';

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  old_secret_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, url, description, event_types, enabled, disabled_reason, old_secret_until, created_at, updated_at';

const present = (r: Row): Endpoint => ({
  id: r.id,
  url: r.url,
  description: r.description,
  eventTypes: r.event_types,
  enabled: r.enabled,
  disabledReason: r.disabled_reason,
  previousSecretValidUntil:
    r.old_secret_until && r.old_secret_until > new Date() ? r.old_secret_until.toISOString() : null,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export interface EndpointStore {
  create(
    tenant: string,
    e: { url: string; description: string; eventTypes: string[] },
  ): Promise<Endpoint & { secret: string }>;
  list(tenant: string): Promise<Endpoint[]>;
  get(tenant: string, id: string): Promise<Endpoint | null>;
  update(
    tenant: string,
    id: string,
    change: { url?: string; description?: string; eventTypes?: string[]; enabled?: boolean },
  ): Promise<Endpoint | null>;
  remove(tenant: string, id: string): Promise<boolean>;
  rotate(tenant: string, id: string, graceSeconds: number): Promise<(Endpoint & { secret: string }) | null>;
}

export function endpointStore(pool: Pool, schema: string, box: SecretBox): EndpointStore {
  const t = `${schema}.webhook_endpoints`;
  return {
    async create(tenant, e) {
      const id = randomUUID();
      const secret = newSecret();
      const r = await pool.query<Row>(
        `INSERT INTO ${t} (id, tenant, url, description, event_types, secret_enc)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [id, tenant, e.url, e.description, e.eventTypes, box.seal(secret, id)],
      );
      return { ...present(r.rows[0]!), secret };
    },
    async list(tenant) {
      const r = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM ${t} WHERE tenant = $1 ORDER BY created_at, id`,
        [tenant],
      );
      return r.rows.map(present);
    },
    async get(tenant, id) {
      const r = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${t} WHERE tenant = $1 AND id = $2`, [
        tenant,
        id,
      ]);
      return r.rows[0] ? present(r.rows[0]) : null;
    },
    async update(tenant, id, c) {
      // Enabling again clears the reason it was disabled for.
      const r = await pool.query<Row>(
        `UPDATE ${t} SET url = COALESCE($3, url), description = COALESCE($4, description),
                event_types = COALESCE($5, event_types), enabled = COALESCE($6, enabled),
                disabled_reason = CASE WHEN COALESCE($6, enabled) THEN NULL ELSE COALESCE(disabled_reason, 'disabled by a user') END,
                updated_at = now()
          WHERE tenant = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [tenant, id, c.url ?? null, c.description ?? null, c.eventTypes ?? null, c.enabled ?? null],
      );
      return r.rows[0] ? present(r.rows[0]) : null;
    },
    async remove(tenant, id) {
      const r = await pool.query(`DELETE FROM ${t} WHERE tenant = $1 AND id = $2`, [tenant, id]);
      return (r.rowCount ?? 0) > 0;
    },
    async rotate(tenant, id, graceSeconds) {
      const secret = newSecret();
      const r = await pool.query<Row>(
        `UPDATE ${t} SET old_secret_enc = secret_enc, secret_enc = $3,
                old_secret_until = now() + make_interval(secs => $4), updated_at = now()
          WHERE tenant = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [tenant, id, box.seal(secret, id), graceSeconds],
      );
      return r.rows[0] ? { ...present(r.rows[0]), secret } : null;
    },
  };
}
