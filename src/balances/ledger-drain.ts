/**
 * Moves ledger entries from the Redis streams into PostgreSQL, in order, exactly once in effect:
 * a batch is inserted with its stream entry ids as the primary key (a re-drain after a crash
 * inserts nothing twice), and only then deleted from the stream. History thus survives Redis, and
 * for every balance the sum of its ledger deltas equals its value.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Pool } from 'pg';
import { ledgersKey } from './keys.js';

export function ledgerTable(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return `${schema}.balance_ledger`;
}

export async function ensureLedgerSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${ledgerTable(schema)} (
    stream text NOT NULL,
    entry_id text NOT NULL,
    tenant text NOT NULL,
    account_id text NOT NULL,
    op_id text NOT NULL,
    scope char(1) NOT NULL,
    balance_id text NOT NULL,
    unit text NOT NULL,
    kind text NOT NULL,
    delta bigint NOT NULL,
    held_delta bigint NOT NULL,
    value_after bigint NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (stream, entry_id)
  )`);
  await pool.query(
    `CREATE INDEX IF NOT EXISTS balance_ledger_account ON ${ledgerTable(schema)} (tenant, account_id, at)`,
  );
}

const COLUMNS = [
  'op',
  'account',
  'scope',
  'balance',
  'unit',
  'kind',
  'delta',
  'heldDelta',
  'valueAfter',
  'at',
] as const;

function tenantOf(stream: string): string {
  const m = /\{[ag]:([^:}]+):/.exec(stream);
  return m ? m[1]! : '';
}

/** Drains every known ledger stream; returns how many entries were stored. */
export async function drainLedgers(opts: {
  redis: Redis | Cluster;
  pool: Pool;
  schema: string;
  keyPrefix: string;
  batchSize?: number;
}): Promise<number> {
  const batch = opts.batchSize ?? 1000;
  let total = 0;
  for (const stream of await opts.redis.smembers(ledgersKey({ prefix: opts.keyPrefix }))) {
    for (;;) {
      const entries = await opts.redis.xrange(stream, '-', '+', 'COUNT', batch);
      if (entries.length === 0) break;
      const cols: string[][] = COLUMNS.map(() => []);
      for (const [, fields] of entries) {
        const f = new Map<string, string>();
        for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
        COLUMNS.forEach((c, k) => cols[k]!.push(f.get(c) ?? ''));
      }
      const ids = entries.map(([id]) => id);
      await opts.pool.query(
        `INSERT INTO ${ledgerTable(opts.schema)}
           (stream, entry_id, tenant, account_id, op_id, scope, balance_id, unit, kind, delta, held_delta, value_after, at)
         SELECT $1, e, $2, a, o, s, b, u, k, d::bigint, h::bigint, v::bigint, to_timestamp(t::bigint / 1000.0)
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
                AS x(e, o, a, s, b, u, k, d, h, v, t)
         ON CONFLICT (stream, entry_id) DO NOTHING`,
        [stream, tenantOf(stream), ids, ...cols],
      );
      // Stored: now the entries may leave Redis (a crash before this line only re-inserts nothing).
      await opts.redis.xdel(stream, ...ids);
      total += entries.length;
    }
  }
  return total;
}
