/**
 * Rated records and the charging trail in PostgreSQL. The charging step writes them to the account's
 * outbox in Redis together with the balance change they describe (one atomic script), and the
 * outbox drain (outbox.ts) stores them here, idempotently by their keys:
 *
 *   rated_records     one row per charged event and per closed session (a late report after the close
 *                     replaces it: the newest version of a record wins, the one with the most usage,
 *                     whichever drainer stores it last), with its price breakdown
 *   charging_requests one row per processed charging request: what was asked and what was answered
 */
import type { Pool } from 'pg';
import { ensureColumnType, ensurePrimaryKey } from './migrate.js';

export interface RatedRecord {
  record_id: string;
  tenant: string;
  account_id: string;
  kind: 'event' | 'session';
  category: string;
  tor: string;
  destination: string;
  started_at: string;
  usage: number;
  cost_nano: number;
  currency: string;
  result_code: number;
  close_cause: string | null;
  breakdown: unknown;
}

const COLUMNS = {
  rated_records:
    'record_id, tenant, account_id, kind, category, tor, destination, started_at, usage, cost_nano, currency, result_code, close_cause, breakdown',
  charging_requests: 'tenant, session_id, request_number, phase, request, answer, at',
} as const;
export type Table = keyof typeof COLUMNS;

function qualified(schema: string, table: Table): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return `${schema}.${table}`;
}

export async function ensureRecordsSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, 'rated_records')} (
    record_id text NOT NULL,
    tenant text NOT NULL,
    account_id text NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    tor text NOT NULL,
    destination text NOT NULL,
    started_at timestamptz NOT NULL,
    usage bigint NOT NULL,
    cost_nano bigint NOT NULL,
    currency text NOT NULL,
    result_code int NOT NULL,
    close_cause text,
    breakdown json,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, record_id)
  )`);
  await pool.query(
    `CREATE INDEX IF NOT EXISTS rated_records_account ON ${qualified(schema, 'rated_records')} (tenant, account_id, started_at)`,
  );
  await pool.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, 'charging_requests')} (
    tenant text NOT NULL,
    session_id text NOT NULL,
    request_number bigint NOT NULL,
    phase text NOT NULL,
    request json NOT NULL,
    answer json NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (tenant, session_id, request_number, phase)
  )`);
  // History is kept as written (json): jsonb's conversion cost the drain more than all else.
  await ensureColumnType(pool, qualified(schema, 'rated_records'), 'breakdown', 'json');
  await ensureColumnType(pool, qualified(schema, 'charging_requests'), 'request', 'json');
  await ensureColumnType(pool, qualified(schema, 'charging_requests'), 'answer', 'json');
  // Record ids are the callers' event and session ids: two tenants may use the same one.
  await ensurePrimaryKey(pool, qualified(schema, 'rated_records'), ['tenant', 'record_id']);
  // Keyed by phase too since the engine closes silent sessions itself (phase expire).
  await ensurePrimaryKey(pool, qualified(schema, 'charging_requests'), [
    'tenant',
    'session_id',
    'request_number',
    'phase',
  ]);
}

/**
 * Rows of both tables from outbox entries, stored in one statement per table. Within a batch the
 * last version of a rated record wins (a session closed by expiry, then again by a late report).
 * Rows go in in key order: two drains storing the same rows wait for each other, never deadlock.
 */
export class RecordRows {
  private readonly rated = new Map<string, string>();
  private readonly trail: string[] = [];

  get length(): number {
    return this.rated.size + this.trail.length;
  }

  /** Rated records: a JSON array of rows. */
  addRated(rows: string): void {
    for (const row of JSON.parse(rows) as RatedRecord[]) {
      const key = `${row.tenant}\n${row.record_id}`; // a tenant holds no whitespace (keys.ts)
      this.rated.delete(key);
      this.rated.set(key, JSON.stringify(row));
    }
  }

  /** A trail entry as the step writes it: the row without its answer, and the answer. */
  addTrail(row: string, answer: string): void {
    this.trail.push(`${row.slice(0, -1)},"answer":${answer}}`);
  }

  async insert(db: Pick<Pool, 'query'>, schema: string): Promise<void> {
    if (this.rated.size) {
      const t = qualified(schema, 'rated_records');
      const cols = COLUMNS.rated_records;
      const updates = cols
        .split(', ')
        .filter((c) => c !== 'record_id' && c !== 'tenant')
        .map((c) => `${c} = EXCLUDED.${c}`)
        .join(', ');
      await db.query(
        `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM json_populate_recordset(null::${t}, $1::json)
         ORDER BY tenant, record_id
         ON CONFLICT (tenant, record_id) DO UPDATE SET ${updates}, stored_at = now() WHERE ${t}.usage <= EXCLUDED.usage`,
        [`[${[...this.rated.values()].join(',')}]`],
      );
    }
    if (this.trail.length) {
      const t = qualified(schema, 'charging_requests');
      const cols = COLUMNS.charging_requests;
      await db.query(
        `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM json_populate_recordset(null::${t}, $1::json)
         ORDER BY tenant, session_id, request_number, phase ON CONFLICT DO NOTHING`,
        [`[${this.trail.join(',')}]`],
      );
    }
  }
}
