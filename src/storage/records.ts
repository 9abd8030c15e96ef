/**
 * Rated records and the charging trail in PostgreSQL. The charging step writes them to the account's
 * outbox in Redis together with the balance change they describe (one atomic script), and the
 * outbox drain (outbox.ts) stores them here, idempotently by their keys:
 *
 *   rated_records     one row per charged event and per closed session (a late report after the close
 *                     replaces it: the newest version of a record wins, the one with the most usage,
 *                     whichever drainer stores it last), with its price breakdown; `usage` in the
                     event's unit (seconds for voice, bytes, messages, units: record-units.ts)
 *   charging_requests one row per processed charging request: what was asked and what was answered
 */
import type { Pool } from 'pg';
import { ensureColumn, ensureColumnDefault, ensureColumnType, ensurePrimaryKey } from './migrate.js';
import { adjustmentsTable, earlierDeltasSql, ensureAdjustmentsTable } from '../billing/run/adjustments.js';
import { convertNanoUsage, usageInEventUnits } from './record-units.js';

export interface RatedRecord {
  record_id: string;
  tenant: string;
  account_id: string;
  kind: 'event' | 'session';
  category: string;
  tor: string;
  destination: string;
  started_at: string;
  /** In the event's unit: seconds for voice, bytes, messages, units (record-units.ts). */
  usage: number;
  cost_nano: number;
  currency: string;
  result_code: number;
  close_cause: string | null;
  breakdown: unknown;
  /** Money taken from money balances by this record (bundles excluded), set by the drain. */
  charged_nano?: number;
}

const COLUMNS = {
  rated_records:
    'record_id, tenant, account_id, kind, category, tor, destination, started_at, usage, cost_nano, currency, result_code, close_cause, breakdown, charged_nano',
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
  // Billable rows are append-only (billing.md E.1): the money a record took and when it was first
  // stored never change; a late report's difference goes to usage_adjustments. Rows stored before
  // these columns: their price was what they took, their stored_at when they were first stored.
  const rr = qualified(schema, 'rated_records');
  await ensureColumn(
    pool,
    rr,
    'charged_nano',
    'bigint',
    `UPDATE ${rr} SET charged_nano = cost_nano;
    ALTER TABLE ${rr} ALTER COLUMN charged_nano SET NOT NULL`,
  );
  await ensureColumn(
    pool,
    rr,
    'first_stored_at',
    'timestamptz',
    `UPDATE ${rr} SET first_stored_at = stored_at;
    ALTER TABLE ${rr} ALTER COLUMN first_stored_at SET NOT NULL`,
  );
  // The statement's time, not the transaction's: taken after the cut-off lock (billing/run/cutoff.ts).
  await ensureColumnDefault(pool, rr, 'first_stored_at', 'statement_timestamp()');
  await ensureColumnDefault(pool, rr, 'stored_at', 'statement_timestamp()');
  await pool.query(
    `CREATE INDEX IF NOT EXISTS rated_records_first_stored_at ON ${rr} USING brin (first_stored_at) WITH (autosummarize = on)`,
  );
  await ensureAdjustmentsTable(pool, schema);
  await convertNanoUsage(pool, schema); // voice events' usage once stored in nanoseconds
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

  /**
   * Rated records: a JSON array of rows, and the movements of their outbox entry. A session's record
   * carries the money it took (cost_nano); an event's carries its price, of which bundles may have
   * paid part: what it took is what its entry moved on money balances.
   */
  addRated(rows: string, moves?: string): void {
    for (const row of JSON.parse(rows) as RatedRecord[]) {
      row.charged_nano = row.kind === 'event' ? moneyTaken(moves) : row.cost_nano;
      row.usage = usageInEventUnits(row); // an entry an older version wrote, drained by this one
      const key = `${row.tenant}\n${row.record_id}`; // a tenant holds no whitespace (keys.ts)
      this.rated.delete(key);
      this.rated.set(key, JSON.stringify(row));
    }
  }

  /** The tenants of the rated records (whose cut-off lock the transaction storing them takes). */
  tenants(): string[] {
    return [...new Set([...this.rated.keys()].map((k) => k.slice(0, k.indexOf('\n'))))];
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
        .filter((c) => c !== 'record_id' && c !== 'tenant' && c !== 'charged_nano')
        .map((c) => `${c} = EXCLUDED.${c}`)
        .join(', ');
      // A replaced record keeps its charged_nano and first_stored_at; what the new version takes
      // beyond what the record and its earlier differences took is a late_report difference, written
      // in this statement (xmax <> 0: the row was updated, not inserted).
      await db.query(
        `WITH i AS (SELECT ${cols} FROM json_populate_recordset(null::${t}, $1::json)),
         up AS (INSERT INTO ${t} (${cols}) SELECT ${cols} FROM i ORDER BY tenant, record_id
           ON CONFLICT (tenant, record_id) DO UPDATE SET ${updates}, stored_at = statement_timestamp()
           WHERE ${t}.usage <= EXCLUDED.usage
           RETURNING tenant, record_id, account_id, tor, category, started_at, usage, charged_nano, xmax <> 0 AS replaced),
         d AS (SELECT up.*, i.charged_nano - up.charged_nano - ${earlierDeltasSql(schema, 'record', 'up.tenant', 'up.record_id')} AS delta,
             (SELECT count(*) FROM ${adjustmentsTable(schema)} a WHERE a.tenant = up.tenant AND a.source = 'record' AND a.source_id = up.record_id) AS n
           FROM up JOIN i USING (tenant, record_id) WHERE up.replaced)
         INSERT INTO ${adjustmentsTable(schema)} (tenant, account_id, source, source_id, reason, tor, category, event_time, delta_charged_nano, op_id)
         SELECT tenant, account_id, 'record', record_id, 'late_report', tor, category, started_at, delta,
                'late_report:' || record_id || ':' || (n + 1) FROM d WHERE delta <> 0
         ON CONFLICT (tenant, op_id) DO NOTHING`,
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

/** Money an outbox entry took from money balances: minus the sum of its money movements' deltas. */
function moneyTaken(moves: string | undefined): number {
  if (!moves) return 0;
  let sum = 0n;
  for (const m of moves.split(';')) {
    const parts = m.split(',');
    if (parts.length === 8) parts.shift(); // an entry of many accounts names each move's account
    if (parts[2] === 'money') sum += BigInt(parts[4]!);
  }
  return Number(-sum);
}
