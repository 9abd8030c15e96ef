/**
 * The balance ledger in PostgreSQL: one row per movement of a balance, as the scripts wrote it to
 * the account's outbox (one entry per operation: op, account, at, moves). For every balance the sum
 * of its ledger deltas equals its value. The outbox drain (storage/outbox.ts) moves the entries here.
 */
import type { Pool } from 'pg';
import { ensurePrimaryKey } from '../storage/migrate.js';

export function ledgerTable(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return `${schema}.balance_ledger`;
}

export async function ensureLedgerSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${ledgerTable(schema)} (
    stream text NOT NULL,
    entry_id text NOT NULL,
    seq int NOT NULL,
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
    PRIMARY KEY (stream, entry_id, seq)
  )`);
  // Before one entry held several movements, an entry was a row.
  await pool.query(`ALTER TABLE ${ledgerTable(schema)} ADD COLUMN IF NOT EXISTS seq int NOT NULL DEFAULT 0`);
  await ensurePrimaryKey(pool, ledgerTable(schema), ['stream', 'entry_id', 'seq']);
  await pool.query(
    `CREATE INDEX IF NOT EXISTS balance_ledger_account ON ${ledgerTable(schema)} (tenant, account_id, at)`,
  );
}

/** Ledger rows as columns, ready for one INSERT ... SELECT FROM unnest. */
export class LedgerRows {
  readonly stream: string[] = [];
  readonly entry: string[] = [];
  readonly seq: number[] = [];
  readonly tenant: string[] = [];
  readonly account: string[] = [];
  readonly op: string[] = [];
  readonly scope: string[] = [];
  readonly balance: string[] = [];
  readonly unit: string[] = [];
  readonly kind: string[] = [];
  readonly delta: string[] = [];
  readonly held: string[] = [];
  readonly after: string[] = [];
  readonly at: string[] = [];

  get length(): number {
    return this.seq.length;
  }

  /**
   * Adds the movements of one outbox entry: `moves` = 'scope,balance,unit,kind,delta,held,after;...'
   * of the entry's account, or with the account first ('account,scope,...') in an entry of many
   * (a batch of CDRs).
   */
  add(stream: string, entryId: string, tenant: string, f: Map<string, string>): void {
    const moves = f.get('moves')!.split(';');
    moves.forEach((m, i) => {
      const parts = m.split(',');
      const account = parts.length === 8 ? parts.shift()! : f.get('account')!;
      const [scope, balance, unit, kind, delta, held, after] = parts as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      this.stream.push(stream);
      this.entry.push(entryId);
      this.seq.push(i);
      this.tenant.push(tenant);
      this.account.push(account);
      this.op.push(f.get('op')!);
      this.scope.push(scope);
      this.balance.push(balance);
      this.unit.push(unit);
      this.kind.push(kind);
      this.delta.push(delta);
      this.held.push(held);
      this.after.push(after);
      this.at.push(f.get('at')!);
    });
  }

  /**
   * Stores the rows in primary-key order: two drains that read the same entries (an outbox marked
   * dirty again while one drain had it) insert them in the same order, so the second waits for the
   * first instead of both waiting for each other (a deadlock that failed a drain).
   */
  async insert(pool: Pool | { query: Pool['query'] }, schema: string): Promise<void> {
    if (this.length === 0) return;
    await pool.query(
      `INSERT INTO ${ledgerTable(schema)}
         (stream, entry_id, seq, tenant, account_id, op_id, scope, balance_id, unit, kind, delta, held_delta, value_after, at)
       SELECT s, e, q, t, a, o, sc, b, u, k, d::bigint, h::bigint, v::bigint, to_timestamp(at::bigint / 1000.0)
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
              AS x(s, e, q, t, a, o, sc, b, u, k, d, h, v, at)
        ORDER BY s, e, q
       ON CONFLICT (stream, entry_id, seq) DO NOTHING`,
      [
        this.stream,
        this.entry,
        this.seq,
        this.tenant,
        this.account,
        this.op,
        this.scope,
        this.balance,
        this.unit,
        this.kind,
        this.delta,
        this.held,
        this.after,
        this.at,
      ],
    );
  }
}
