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

/**
 * Whose namespace a run record's `actions_id` is in: ExecuteAction's (a profile id, never empty:
 * SetActions refuses an empty ActionsId) or a balance call's (SetBalance, AddBalance with Overwrite:
 * `actions_id` is ''). The kind is part of the key, so no profile id can share a balance call's runs.
 */
export type RunKind = 'exec' | 'setbalance' | 'addbalance';

/** One call under a Reference: its key, and the fingerprint of the body it ran with. */
export interface RunKey {
  tenant: string;
  account: string;
  kind: RunKind;
  actionsId: string;
  reference: string;
  fingerprint: string;
}

/**
 * The run records' upgrade, once (it runs while the key lacks `kind`): rows written before as
 * `cgr:setbalance` / `cgr:addbalance` move to their kind, unless the tenant has a profile of that
 * id (then they were its runs). Rows written before have no fingerprint: their replays answer OK.
 */
const runsUpgrade = (schema: string) => `
ALTER TABLE ${schema}.cgr_action_runs ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'exec',
  ADD COLUMN IF NOT EXISTS fingerprint text;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = '${schema}.cgr_action_runs'::regclass
      AND c.contype = 'p' AND (SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid
      AND attname = 'kind') = ANY (c.conkey)) THEN
    UPDATE ${schema}.cgr_action_runs r SET kind = substr(r.actions_id, 5), actions_id = ''
     WHERE r.actions_id IN ('cgr:setbalance', 'cgr:addbalance') AND NOT EXISTS
       (SELECT 1 FROM ${schema}.cgr_actions p WHERE p.tenant = r.tenant AND p.id = r.actions_id);
    ALTER TABLE ${schema}.cgr_action_runs DROP CONSTRAINT cgr_action_runs_pkey,
      ADD PRIMARY KEY (tenant, account, kind, reference, actions_id);
  END IF;
END $$;
${claimUpgrade(schema)}`;

/**
 * The claim (run-once.ts): one row per Reference (tenant, account, kind), whatever its profile id,
 * so two bodies racing under one Reference cannot both claim it. Rows written before were finished
 * runs ('done'); a Reference that already holds several (another ActionsId ran under it before
 * fingerprints) keeps them as 'legacy': outside the unique key, and no new claim joins them.
 */
const claimUpgrade = (schema: string) => `
ALTER TABLE ${schema}.cgr_action_runs ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'done';
DO $$ BEGIN
  IF to_regclass('${schema}.cgr_action_runs_claim') IS NULL THEN
    UPDATE ${schema}.cgr_action_runs r SET status = 'legacy' WHERE (SELECT count(*)
      FROM ${schema}.cgr_action_runs o WHERE o.tenant = r.tenant AND o.account = r.account
       AND o.kind = r.kind AND o.reference = r.reference) > 1;
    CREATE UNIQUE INDEX cgr_action_runs_claim ON ${schema}.cgr_action_runs
      (tenant, account, kind, reference) WHERE status <> 'legacy';
  END IF;
END $$`;

export async function ensureCgratesSchema(pool: Pool, schema: string): Promise<void> {
  await pool.query(`
CREATE TABLE IF NOT EXISTS ${schema}.cgr_actions (
  tenant text NOT NULL, id text NOT NULL, actions jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, id));
CREATE TABLE IF NOT EXISTS ${schema}.cgr_action_runs (
  tenant text NOT NULL, account text NOT NULL, actions_id text NOT NULL, reference text NOT NULL,
  done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant, account, actions_id, reference));
${runsUpgrade(schema)}`);
}

export function cgrActionsStore(pool: Pool, schema: string) {
  let ready: Promise<void> | undefined;
  const table = `${schema}.cgr_actions`;
  const runs = `${schema}.cgr_action_runs`;
  const sameRef = 'tenant = $1 AND account = $2 AND kind = $3 AND reference = $4';
  const mine = 'actions_id = $5 AND fingerprint = $6';
  const runArgs = (k: RunKey) => [k.tenant, k.account, k.kind, k.reference, k.actionsId, k.fingerprint];
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
     * Claims the call's Reference before its first write (run-once.ts): 'claimed' (this call's row
     * now, status 'running'); else the row that holds it judged: 'done' (this body finished under
     * it: a replay answers OK without reading the account again, so a `*reset_account` replayed
     * later does not zero balances added since), 'resume' (this body's run stopped halfway: its
     * retry replays the writes done, their op ids, and does the rest), 'other' (another body:
     * EXISTS). A row from before fingerprints (null) is judged by its profile id alone.
     */
    async claimRun(k: RunKey): Promise<'claimed' | 'resume' | 'done' | 'other'> {
      await ensure();
      // The holder may be released between the refused insert and the read: claim again.
      for (;;) {
        const ins = await pool.query(
          `INSERT INTO ${runs} (tenant, account, kind, reference, actions_id, fingerprint, status)
           SELECT $1, $2, $3, $4, $5, $6, 'running' WHERE NOT EXISTS (SELECT 1 FROM ${runs}
            WHERE ${sameRef} AND status = 'legacy')
           ON CONFLICT DO NOTHING`,
          runArgs(k),
        );
        if (ins.rowCount) return 'claimed';
        const r = await pool.query<{ actions_id: string; fingerprint: string | null; status: string }>(
          `SELECT actions_id, fingerprint, status FROM ${runs} WHERE ${sameRef}`,
          runArgs(k).slice(0, 4),
        );
        if (!r.rows.length) continue;
        const same = r.rows.find(
          (row) =>
            row.actions_id === k.actionsId && (row.fingerprint === null || row.fingerprint === k.fingerprint),
        );
        if (!same) return 'other';
        return same.status === 'running' ? 'resume' : 'done';
      }
    },

    /** The run finished: its replays answer OK without running. */
    async finishRun(k: RunKey): Promise<void> {
      await ensure();
      await pool.query(
        `UPDATE ${runs} SET status = 'done', done_at = now() WHERE ${sameRef} AND ${mine}`,
        runArgs(k),
      );
    },

    /** A claimed run refused before its first write gives the Reference back: it changed nothing. */
    async releaseRun(k: RunKey): Promise<void> {
      await ensure();
      await pool.query(`DELETE FROM ${runs} WHERE ${sameRef} AND ${mine} AND status = 'running'`, runArgs(k));
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
