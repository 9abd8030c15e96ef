/** Tables created by an earlier version are brought to this version's keys, once, keeping their rows. */
import { describe, expect, it } from 'vitest';
import { ensureLedgerSchema, ledgerTable } from '../../src/balances/ledger.js';
import { ensureRecordsSchema } from '../../src/storage/records.js';
import { testPostgres } from '../support/postgres.js';

const { pool, schema } = testPostgres();

const primaryKey = async (table: string) =>
  (
    await pool.query<{ def: string }>(
      `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c WHERE c.contype = 'p' AND c.conrelid = $1::regclass`,
      [table],
    )
  ).rows[0]?.def;

describe('schema migration', () => {
  it('re-keys the ledger and the trail of an older version and keeps their rows', async () => {
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.balance_ledger (stream text NOT NULL, entry_id text NOT NULL, tenant text NOT NULL,
      account_id text NOT NULL, op_id text NOT NULL, scope char(1) NOT NULL, balance_id text NOT NULL, unit text NOT NULL,
      kind text NOT NULL, delta bigint NOT NULL, held_delta bigint NOT NULL, value_after bigint NOT NULL, at timestamptz NOT NULL,
      PRIMARY KEY (stream, entry_id))`);
    await pool.query(
      `INSERT INTO ${schema}.balance_ledger VALUES ('s', '1-0', 't', 'a', 'op', 'a', 'main', 'money', 'topup', 5, 0, 5, now())`,
    );
    await pool.query(`CREATE TABLE ${schema}.charging_requests (tenant text NOT NULL, session_id text NOT NULL,
      request_number bigint NOT NULL, phase text NOT NULL, request jsonb NOT NULL, answer jsonb NOT NULL, at timestamptz NOT NULL,
      PRIMARY KEY (tenant, session_id, request_number))`);
    for (let run = 0; run < 2; run++) {
      await ensureLedgerSchema(pool, schema);
      await ensureRecordsSchema(pool, schema);
    }
    expect(await primaryKey(ledgerTable(schema))).toBe('PRIMARY KEY (stream, entry_id, seq)');
    expect(await primaryKey(`${schema}.charging_requests`)).toBe(
      'PRIMARY KEY (tenant, session_id, request_number, phase)',
    );
    const rows = await pool.query(`SELECT seq, delta::int FROM ${ledgerTable(schema)}`);
    expect(rows.rows).toEqual([{ seq: 0, delta: 5 }]);
  });
});
