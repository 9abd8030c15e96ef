/**
 * Rated records and the charging trail, on their way to PostgreSQL. The request path appends a
 * record to one Redis stream (fast, persisted with Redis's AOF) and a background drain inserts them
 * in order into PostgreSQL, idempotently by their ids: a record appended twice (a replay, a crash
 * between insert and trim) is stored once.
 *
 *   rated_records     one row per charged event and per closed session, with its price breakdown
 *   charging_requests one row per processed charging request: what was asked and what was answered
 */
import type { Cluster, Redis } from 'ioredis';
import type { Pool } from 'pg';

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

export interface ChargingRequestRow {
  tenant: string;
  session_id: string;
  request_number: number;
  phase: string;
  request: unknown;
  answer: unknown;
  at: string;
}

const COLUMNS = {
  rated_records:
    'record_id, tenant, account_id, kind, category, tor, destination, started_at, usage, cost_nano, currency, result_code, close_cause, breakdown',
  charging_requests: 'tenant, session_id, request_number, phase, request, answer, at',
} as const;
export type Table = keyof typeof COLUMNS;

/** Where the request path puts records (the store appends to the stream; tests may collect). */
export type RecordSink = <T extends Table>(
  table: T,
  row: T extends 'rated_records' ? RatedRecord : ChargingRequestRow,
) => Promise<void>;

export function streamSink(redis: Redis | Cluster, prefix: string): RecordSink {
  return (table, row) => appendRecord(redis, prefix, table, row);
}

export const recordsStream = (prefix: string) => `${prefix}records`;

function qualified(schema: string, table: Table): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return `${schema}.${table}`;
}

export async function ensureRecordsSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, 'rated_records')} (
    record_id text PRIMARY KEY,
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
    breakdown jsonb,
    stored_at timestamptz NOT NULL DEFAULT now()
  )`);
  await pool.query(
    `CREATE INDEX IF NOT EXISTS rated_records_account ON ${qualified(schema, 'rated_records')} (tenant, account_id, started_at)`,
  );
  await pool.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, 'charging_requests')} (
    tenant text NOT NULL,
    session_id text NOT NULL,
    request_number bigint NOT NULL,
    phase text NOT NULL,
    request jsonb NOT NULL,
    answer jsonb NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (tenant, session_id, request_number)
  )`);
}

export async function appendRecord(
  redis: Redis | Cluster,
  prefix: string,
  table: Table,
  row: RatedRecord | ChargingRequestRow,
): Promise<void> {
  await redis.xadd(recordsStream(prefix), '*', 'table', table, 'row', JSON.stringify(row));
}

/** Inserts the stream's records into PostgreSQL in order, then trims them; returns how many. */
export async function drainRecords(opts: {
  redis: Redis | Cluster;
  pool: Pool;
  schema: string;
  prefix: string;
  batchSize?: number;
}): Promise<number> {
  const stream = recordsStream(opts.prefix);
  let total = 0;
  for (;;) {
    const entries = await opts.redis.xrange(stream, '-', '+', 'COUNT', opts.batchSize ?? 1000);
    if (entries.length === 0) return total;
    const byTable = new Map<Table, unknown[]>();
    for (const [, f] of entries) {
      const table = f[f.indexOf('table') + 1] as Table;
      const list = byTable.get(table) ?? [];
      list.push(JSON.parse(f[f.indexOf('row') + 1]!));
      byTable.set(table, list);
    }
    for (const [table, rows] of byTable) {
      const t = qualified(opts.schema, table);
      const cols = COLUMNS[table];
      await opts.pool.query(
        `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(null::${t}, $1::jsonb) ON CONFLICT DO NOTHING`,
        [JSON.stringify(rows)],
      );
    }
    await opts.redis.xdel(stream, ...entries.map(([id]) => id));
    total += entries.length;
  }
}
