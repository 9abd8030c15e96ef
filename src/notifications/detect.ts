/**
 * The detector: a periodic job that reads the ledger rows the outbox drain stored since its
 * watermark, judges every rule on each movement, and appends the events of the crossings — with the
 * crossing state and the watermark in the same transaction, so a crash re-reads the rows and writes
 * nothing twice. It never runs on the charging hot path: the scripts and the drain are unchanged.
 * A shared-group balance's state is kept per group ("g:{group}"), so the group fires once per
 * crossing whichever member's usage crossed it.
 */
import type { Pool, PoolClient } from 'pg';
import { ledgerTable } from '../balances/ledger.js';
import { appendEvent } from '../webhooks/append.js';
import type { EventType } from '../webhooks/event-types.js';
import { nanoToDecimal } from '../rating/money.js';
import { enabledRules, onMoney } from './autotopup.js';
import { conditionHolds, isGrant, step, watches, type Movement, type Rule } from './rules.js';
import { allowancesOf, firedKeys, rulesOf, stateKey, writeAllowances, writeStates } from './store.js';

export interface DetectorDeps {
  pool: Pool;
  schema: string;
  /** The shared group of an account (null when none): its group balances are judged once per group. */
  groupOf: (tenant: string, accountId: string) => Promise<string | null>;
  batchSize?: number;
}

interface LedgerRow {
  txid: string;
  position: string;
  stream: string;
  entry_id: string;
  seq: number;
  tenant: string;
  account_id: string;
  op_id: string;
  scope: string;
  balance_id: string;
  unit: string;
  kind: string;
  delta: string;
  value_after: string;
  at: Date;
}

const EVENT_OF: Record<Rule['kind'], EventType> = {
  money_below: 'balance.low',
  money_exhausted: 'balance.exhausted',
  bundle_used_pct: 'bundle.threshold_reached',
};

/** One pass over at most `batchSize` new ledger rows; answers how many were read. */
export async function detectOnce(d: DetectorDeps): Promise<number> {
  const c = await d.pool.connect();
  try {
    await c.query('BEGIN');
    const rows = await newRows(c, d);
    if (rows.length > 0) {
      await judge(c, d, rows);
      const last = rows[rows.length - 1]!;
      await c.query(
        `UPDATE ${d.schema}.notification_watermark SET txid = $1::xid8, position = $2 WHERE id = 1`,
        [last.txid, last.position],
      );
    }
    await c.query('COMMIT');
    return rows.length;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Rows after the watermark, committed before every running transaction began (none skipped). */
async function newRows(c: PoolClient, d: DetectorDeps): Promise<LedgerRow[]> {
  const wm = await c.query<{ txid: string; position: string }>(
    `SELECT txid::text, position FROM ${d.schema}.notification_watermark WHERE id = 1 FOR UPDATE`,
  );
  const { txid, position } = wm.rows[0]!;
  const r = await c.query<LedgerRow>(
    `SELECT txid::text, position, stream, entry_id, seq, tenant, account_id, op_id, scope, balance_id, unit, kind,
            delta, value_after, at
       FROM ${ledgerTable(d.schema)}
      WHERE (txid, position) > ($1::xid8, $2::bigint) AND txid < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY txid, position LIMIT $3`,
    [txid, position, d.batchSize ?? 5000],
  );
  return r.rows;
}

async function judge(c: PoolClient, d: DetectorDeps, rows: LedgerRow[]): Promise<void> {
  const { schema } = d;
  const tenants = [...new Set(rows.map((r) => r.tenant))];
  const groups = new Map<string, string | null>();
  const subjectOf = async (r: LedgerRow) => {
    if (r.scope !== 'g') return r.account_id;
    const k = `${r.tenant}/${r.account_id}`;
    if (!groups.has(k)) groups.set(k, await d.groupOf(r.tenant, r.account_id));
    return `g:${groups.get(k) ?? r.account_id}`;
  };
  const subjects: string[] = [];
  for (const r of rows) subjects.push(await subjectOf(r));
  const rules = await rulesOf(c, schema, tenants);
  const fired = await firedKeys(c, schema, tenants, subjects);
  const allowances = await allowancesOf(c, schema, tenants, subjects);
  const topUps = await enabledRules(c, schema, tenants, [...new Set(rows.map((r) => r.account_id))]);
  const states = new Map<string, boolean>();
  const grants = new Map<string, bigint>();
  for (const [i, r] of rows.entries()) {
    const subject = subjects[i]!;
    const m: Movement = {
      unit: r.unit,
      kind: r.kind,
      delta: BigInt(r.delta),
      valueAfter: BigInt(r.value_after),
    };
    const aKey = stateKey(r.tenant, subject, '', r.balance_id);
    if (r.unit !== 'money' && isGrant(m)) {
      allowances.set(aKey, m.valueAfter);
      grants.set(aKey, m.valueAfter);
    }
    const eventId = `notify:${r.stream}:${r.entry_id}:${r.seq}`;
    for (const rule of rules.get(r.tenant) ?? []) {
      if (!rule.enabled || !watches(rule, r.unit)) continue;
      if (rule.accountId !== null && rule.accountId !== r.account_id) continue;
      const key = stateKey(r.tenant, subject, rule.code, r.balance_id);
      const was = fired.has(key);
      const s = step(was, conditionHolds(rule, m, allowances.get(aKey) ?? null));
      if (s.fired !== was) {
        states.set(key, s.fired);
        if (s.fired) fired.add(key);
        else fired.delete(key);
      }
      if (s.fire)
        await appendEvent(c, schema, {
          tenant: r.tenant,
          accountId: r.account_id,
          id: `${eventId}:${rule.code}`,
          type: EVENT_OF[rule.kind],
          occurredAt: r.at,
          payload: payload(rule, r, m, subject, allowances.get(aKey)),
        });
    }
    const topUp = topUps.get(`${r.tenant}/${r.account_id}`);
    if (topUp && r.scope === 'a' && r.unit === 'money' && r.balance_id === topUp.balance_id)
      await onMoney(c, schema, topUp, { valueAfter: m.valueAfter, eventId, at: r.at });
  }
  await writeStates(c, schema, states);
  await writeAllowances(c, schema, grants);
}

function payload(rule: Rule, r: LedgerRow, m: Movement, subject: string, allowance: bigint | undefined) {
  const money = r.unit === 'money';
  return {
    rule: rule.code,
    kind: rule.kind,
    balanceId: r.balance_id,
    unit: r.unit,
    value: money ? nanoToDecimal(m.valueAfter) : r.value_after,
    ...(rule.amountNano !== undefined ? { threshold: nanoToDecimal(rule.amountNano) } : {}),
    ...(rule.percent !== undefined ? { percent: rule.percent, allowance: `${allowance}` } : {}),
    ...(subject.startsWith('g:') ? { groupId: subject.slice(2) } : {}),
    opId: r.op_id,
  };
}
