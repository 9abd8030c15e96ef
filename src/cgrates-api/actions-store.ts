/**
 * CGRateS action profiles (APIerSv2.SetActions) kept in PostgreSQL per tenant, as checked by
 * actions.ts: the rows hold the engine's reading of them (exact amounts), not CGRateS's floats.
 * The table is created on first use, idempotently; `ensureCgratesSchema` is also callable from the
 * engine's schema upgrade.
 */
import type { Pool } from 'pg';
import type { BalanceUnit } from '../balances/model.js';
import { appendEvent } from '../webhooks/append.js';

/** One action as stored: what actions.ts executes. */
export interface StoredAction {
  type: string;
  /** The balance it works on ('' = none named). */
  balanceId: string;
  unit: BalanceUnit | null;
  /** Base units (nano for money); 0 when the type takes none. */
  amount: number;
  expiry: string;
  destinations: string[];
  categories: string[];
  ratingSubject: string;
  balanceWeight: number;
  blocker: boolean;
  extraParameters: string;
  weight: number;
}

export async function ensureCgratesSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${schema}.cgr_actions (
  tenant text NOT NULL, id text NOT NULL, actions jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, id));
CREATE TABLE IF NOT EXISTS ${schema}.cgr_action_runs (
  tenant text NOT NULL, account text NOT NULL, actions_id text NOT NULL, reference text NOT NULL,
  done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, account, actions_id, reference))`);
}

export function cgrActionsStore(pool: Pool, schema: string) {
  let ready: Promise<void> | undefined;
  const table = `${schema}.cgr_actions`;
  /** Creates the table once per process; a failed try (an outage) is tried again next time. */
  const ensure = () =>
    (ready ??= ensureCgratesSchema(pool, schema).catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));

  return {
    /** Stores the profile; an existing one is replaced only with `overwrite` (else false). */
    async set(tenant: string, id: string, actions: StoredAction[], overwrite: boolean): Promise<boolean> {
      await ensure();
      const r = await pool.query(
        `INSERT INTO ${table} (tenant, id, actions) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, id) DO ${overwrite ? 'UPDATE SET actions = EXCLUDED.actions, updated_at = now()' : 'NOTHING'}`,
        [tenant, id, JSON.stringify(actions)],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async get(tenant: string, ids: string[]): Promise<Map<string, StoredAction[]>> {
      await ensure();
      const r = await pool.query<{ id: string; actions: StoredAction[] }>(
        `SELECT id, actions FROM ${table} WHERE tenant = $1 AND id = ANY($2) ORDER BY id`,
        [tenant, ids],
      );
      return new Map(r.rows.map((row) => [row.id, row.actions]));
    },

    /** Every profile's id of the tenant, in order. */
    async ids(tenant: string): Promise<string[]> {
      await ensure();
      const r = await pool.query<{ id: string }>(`SELECT id FROM ${table} WHERE tenant = $1 ORDER BY id`, [
        tenant,
      ]);
      return r.rows.map((row) => row.id);
    },

    /**
     * ExecuteAction's runs under a Reference, recorded once every action of the profile is done: a
     * replay answers OK without reading the account again (a `*reset_account` replayed later must
     * not zero balances added since). A run that stopped halfway is not recorded: its retry replays
     * the actions done (their op ids) and does the rest.
     */
    async ran(tenant: string, account: string, actionsId: string, reference: string): Promise<boolean> {
      await ensure();
      const r = await pool.query(
        `SELECT 1 FROM ${schema}.cgr_action_runs
          WHERE tenant = $1 AND account = $2 AND actions_id = $3 AND reference = $4`,
        [tenant, account, actionsId, reference],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async recordRun(tenant: string, account: string, actionsId: string, reference: string): Promise<void> {
      await ensure();
      await pool.query(
        `INSERT INTO ${schema}.cgr_action_runs (tenant, account, actions_id, reference)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [tenant, account, actionsId, reference],
      );
    },

    /**
     * An `*http_post` of ExecuteAction as an account event (`cgrates.action_posted`): the webhook
     * endpoints subscribed to it deliver it. `id` is derived from the action's op id: once per run.
     */
    async post(tenant: string, accountId: string, id: string, payload: object): Promise<void> {
      const client = await pool.connect();
      try {
        await appendEvent(client, schema, { tenant, accountId, id, type: 'cgrates.action_posted', payload });
      } finally {
        client.release();
      }
    },

    async remove(tenant: string, ids: string[]): Promise<number> {
      await ensure();
      const r = await pool.query(`DELETE FROM ${table} WHERE tenant = $1 AND id = ANY($2)`, [tenant, ids]);
      return r.rowCount ?? 0;
    },
  };
}

export type CgrActionsStore = ReturnType<typeof cgrActionsStore>;
