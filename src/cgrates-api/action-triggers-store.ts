/**
 * CGRateS action triggers and threshold profiles in PostgreSQL, beside the notification rules they
 * become: a group's triggers (templates, as SetActionTrigger keeps them), an account's copies (as
 * AddAccountActionTriggers makes them), threshold profiles. A copy bound to an account, and a
 * threshold profile, are written in the same transaction as their rule (`saveRule`), and removed
 * with it, so the detector never sees one without the other. Tables are created on first use.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../billing/documents/transaction.js';
import type { Rule } from '../notifications/rules.js';
import { removeRuleIn, saveRule } from '../notifications/store.js';
import { triggerRule, triggerRuleCode, type StoredTrigger } from './action-triggers-read.js';

const ddl = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.cgr_action_triggers (
  tenant text NOT NULL, group_id text NOT NULL, unique_id text NOT NULL, trigger jsonb NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (tenant, group_id, unique_id));
CREATE TABLE IF NOT EXISTS ${s}.cgr_account_triggers (
  tenant text NOT NULL, account text NOT NULL, group_id text NOT NULL, unique_id text NOT NULL,
  trigger jsonb NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (tenant, account, group_id, unique_id));
CREATE TABLE IF NOT EXISTS ${s}.cgr_thresholds (
  tenant text NOT NULL, id text NOT NULL, profile jsonb NOT NULL, PRIMARY KEY (tenant, id));`;

/** Which of an account's triggers to remove: empty ids match every one (RemoveAccountActionTriggers). */
export interface TriggerMatch {
  groupId: string;
  uniqueId: string;
}

/** A trigger bound to an account; `executed`: its rule has fired and not re-armed. */
export interface BoundTrigger {
  trigger: StoredTrigger;
  executed: boolean;
}

const matches = (t: StoredTrigger, m: TriggerMatch) =>
  (m.groupId === '' || t.groupId === m.groupId) && (m.uniqueId === '' || t.uniqueId === m.uniqueId);

export function cgrTriggersStore(pool: Pool, schema: string) {
  let ready: Promise<void> | undefined;
  let tablesSeen = false;
  const ensure = () =>
    (ready ??= pool
      .query(ddl(schema))
      .then(() => void (tablesSeen = true))
      .catch((err: unknown) => {
        ready = undefined;
        throw err;
      }));
  /** One transaction per account's triggers at a time (two binds of one account take turns). */
  const lockAccount = (c: PoolClient, tenant: string, account: string) =>
    c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cgr-at:${tenant}:${account}`]);
  const accountRows = async (q: Pool | PoolClient, tenant: string, account: string) =>
    (
      await q.query<{ trigger: StoredTrigger }>(
        `SELECT trigger FROM ${schema}.cgr_account_triggers WHERE tenant = $1 AND account = $2 ORDER BY seq`,
        [tenant, account],
      )
    ).rows.map((r) => r.trigger);
  /** Whether the schema has the tables (made by any write here or by another engine sharing it). */
  const hasTables = async () =>
    (tablesSeen ||=
      (
        await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
          `${schema}.cgr_account_triggers`,
        ])
      ).rows[0]?.t != null);
  /** The accounts' triggers in the order bound, with whether each rule has fired and not re-armed. */
  const boundTo = async (tenant: string, accounts: string[]) => {
    const r = await pool.query<{ account: string; trigger: StoredTrigger }>(
      `SELECT account, trigger FROM ${schema}.cgr_account_triggers WHERE tenant = $1 AND account = ANY($2) ORDER BY seq`,
      [tenant, accounts],
    );
    const codes = r.rows.map((x) => triggerRuleCode(x.account, x.trigger));
    const fired = codes.length
      ? await pool.query<{ rule_code: string }>(
          `SELECT DISTINCT rule_code FROM ${schema}.notification_state WHERE tenant = $1 AND rule_code = ANY($2) AND fired`,
          [tenant, codes],
        )
      : { rows: [] };
    const firedCodes = new Set(fired.rows.map((x) => x.rule_code));
    const out = new Map<string, BoundTrigger[]>();
    r.rows.forEach(({ account, trigger }, i) => {
      const list = out.get(account) ?? out.set(account, []).get(account)!;
      list.push({ trigger, executed: firedCodes.has(codes[i]!) });
    });
    return out;
  };
  const removeIn = async (c: PoolClient, tenant: string, account: string, t: StoredTrigger) => {
    await c.query(
      `DELETE FROM ${schema}.cgr_account_triggers WHERE tenant = $1 AND account = $2 AND group_id = $3 AND unique_id = $4`,
      [tenant, account, t.groupId, t.uniqueId],
    );
    await removeRuleIn(c, schema, tenant, triggerRuleCode(account, t));
  };
  const upsertIn = async (c: PoolClient, tenant: string, account: string, t: StoredTrigger) => {
    await c.query(
      `INSERT INTO ${schema}.cgr_account_triggers (tenant, account, group_id, unique_id, trigger)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, account, group_id, unique_id) DO UPDATE SET trigger = EXCLUDED.trigger`,
      [tenant, account, t.groupId, t.uniqueId, JSON.stringify(t)],
    );
    await saveRule(c, schema, tenant, triggerRule(account, t));
  };

  return {
    /** The triggers of the groups named (all groups when none), in the order they were set. */
    async groups(tenant: string, groupIds: string[]): Promise<StoredTrigger[]> {
      await ensure();
      const r = await pool.query<{ trigger: StoredTrigger }>(
        `SELECT trigger FROM ${schema}.cgr_action_triggers
          WHERE tenant = $1 AND (cardinality($2::text[]) = 0 OR group_id = ANY($2)) ORDER BY group_id, seq`,
        [tenant, groupIds],
      );
      return r.rows.map((x) => x.trigger);
    },

    async setTemplate(tenant: string, t: StoredTrigger): Promise<void> {
      await ensure();
      await pool.query(
        `INSERT INTO ${schema}.cgr_action_triggers (tenant, group_id, unique_id, trigger) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant, group_id, unique_id) DO UPDATE SET trigger = EXCLUDED.trigger`,
        [tenant, t.groupId, t.uniqueId, JSON.stringify(t)],
      );
    },

    /** A group's triggers, or one of them; accounts keep their copies (as in CGRateS). */
    async removeTemplates(tenant: string, groupId: string, uniqueId: string): Promise<number> {
      await ensure();
      const r = await pool.query(
        `DELETE FROM ${schema}.cgr_action_triggers WHERE tenant = $1 AND group_id = $2 AND ($3 = '' OR unique_id = $3)`,
        [tenant, groupId, uniqueId],
      );
      return r.rowCount ?? 0;
    },

    /** An account's triggers, each with whether its rule has fired and not re-armed. */
    async ofAccount(tenant: string, account: string): Promise<BoundTrigger[]> {
      await ensure();
      return (await boundTo(tenant, [account])).get(account) ?? [];
    },

    /**
     * ofAccount for several accounts, for reads that must not create the tables (GetAccount): until
     * the schema has them, one cheap catalog lookup and no triggers; then one indexed query (two
     * when some account has triggers).
     */
    async ofAccounts(tenant: string, accounts: string[]): Promise<Map<string, BoundTrigger[]>> {
      return (await hasTables()) ? boundTo(tenant, accounts) : new Map();
    },

    /**
     * Binds triggers to the account with their rules. `add`: copies kept as they are when already
     * bound (AddAccountActionTriggers); `set`: written over (SetAccountActionTriggers). With
     * `overwrite`, the account's other triggers and their rules go.
     */
    async bind(
      tenant: string,
      account: string,
      list: StoredTrigger[],
      mode: 'add' | 'set',
      overwrite: boolean,
    ) {
      await ensure();
      await inTransaction(pool, async (c) => {
        await lockAccount(c, tenant, account);
        const had = await accountRows(c, tenant, account);
        const key = (t: StoredTrigger) => `${t.groupId}\u0000${t.uniqueId}`;
        const wanted = new Set(list.map(key));
        const bound = new Set(had.map(key));
        if (overwrite) for (const t of had) if (!wanted.has(key(t))) await removeIn(c, tenant, account, t);
        for (const t of list) if (mode === 'set' || !bound.has(key(t))) await upsertIn(c, tenant, account, t);
      });
    },

    /** Removes the account's matching triggers and their rules; answers how many. */
    async unbind(tenant: string, account: string, m: TriggerMatch): Promise<number> {
      await ensure();
      return inTransaction(pool, async (c) => {
        await lockAccount(c, tenant, account);
        const gone = (await accountRows(c, tenant, account)).filter((t) => matches(t, m));
        for (const t of gone) await removeIn(c, tenant, account, t);
        return gone.length;
      });
    },

    /** An account's current copies (for SetAccountActionTriggers to update). */
    async accountTriggers(tenant: string, account: string): Promise<StoredTrigger[]> {
      await ensure();
      return accountRows(pool, tenant, account);
    },

    async threshold<T>(tenant: string, id: string): Promise<T | null> {
      await ensure();
      const r = await pool.query<{ profile: T }>(
        `SELECT profile FROM ${schema}.cgr_thresholds WHERE tenant = $1 AND id = $2`,
        [tenant, id],
      );
      return r.rows[0]?.profile ?? null;
    },

    /** The tenant's threshold profile ids, in order. */
    async thresholdIds(tenant: string): Promise<string[]> {
      await ensure();
      const r = await pool.query<{ id: string }>(
        `SELECT id FROM ${schema}.cgr_thresholds WHERE tenant = $1 ORDER BY id`,
        [tenant],
      );
      return r.rows.map((x) => x.id);
    },

    /** Stores a threshold profile and its rule in one transaction. */
    async setThreshold(tenant: string, id: string, profile: object, rule: Rule): Promise<void> {
      await ensure();
      await inTransaction(pool, async (c) => {
        await c.query(
          `INSERT INTO ${schema}.cgr_thresholds (tenant, id, profile) VALUES ($1, $2, $3)
           ON CONFLICT (tenant, id) DO UPDATE SET profile = EXCLUDED.profile`,
          [tenant, id, JSON.stringify(profile)],
        );
        await saveRule(c, schema, tenant, rule);
      });
    },

    async removeThreshold(tenant: string, id: string, ruleCode: string): Promise<boolean> {
      await ensure();
      return inTransaction(pool, async (c) => {
        const r = await c.query(`DELETE FROM ${schema}.cgr_thresholds WHERE tenant = $1 AND id = $2`, [
          tenant,
          id,
        ]);
        await removeRuleIn(c, schema, tenant, ruleCode);
        return (r.rowCount ?? 0) > 0;
      });
    },

    /** Whether an enabled webhook endpoint of the tenant at `url` is subscribed to `eventType`. */
    async endpointListens(tenant: string, url: string, eventType: string): Promise<boolean> {
      const r = await pool.query(
        `SELECT 1 FROM ${schema}.webhook_endpoints
          WHERE tenant = $1 AND url = $2 AND enabled AND event_types && ARRAY[$3, '*']::text[] LIMIT 1`,
        [tenant, url, eventType],
      );
      return (r.rowCount ?? 0) > 0;
    },
  };
}

export type CgrTriggersStore = ReturnType<typeof cgrTriggersStore>;
