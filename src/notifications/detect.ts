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
import { appendEvents, type NewEvent } from '../webhooks/append.js';
import { nanoToDecimal } from '../rating/money.js';
import { enabledRules, onMoney } from './autotopup.js';
import {
  EVENT_OF,
  conditionHolds,
  isGrant,
  spendDelta,
  step,
  watches,
  type Movement,
  type Rule,
} from './rules.js';
import { spendPeriods } from './spend-periods.js';
import { spendOf, writeSpend } from './spend.js';
import {
  allowancesOf,
  firedKeys,
  rulesOf,
  stateKey,
  writeAllowances,
  writeStates,
  type Grant,
} from './store.js';

export interface DetectorDeps {
  pool: Pool;
  schema: string;
  /** The shared group of an account (null when none): its group balances are judged once per group. */
  groupOf: (tenant: string, accountId: string) => Promise<string | null>;
  /** When a bundle expires (epoch ms, null: never), read at each grant for bundle_expiring rules. */
  expiryOf?: (tenant: string, accountId: string, balanceId: string) => Promise<number | null>;
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

/** What a pass has loaded and changed, shared by the judgement of each movement. */
interface Pass {
  c: PoolClient;
  schema: string;
  rules: Map<string, Rule[]>;
  fired: Set<string>;
  allowances: Map<string, bigint>;
  spend: Map<string, bigint>;
  states: Map<string, boolean>;
  grants: Map<string, Grant>;
  expiryOf: DetectorDeps['expiryOf'];
  /** The pass's events in the order of its movements, appended in one statement at its end. */
  events: NewEvent[];
}

async function judge(c: PoolClient, d: DetectorDeps, rows: LedgerRow[]): Promise<void> {
  const { schema } = d;
  const tenants = [...new Set(rows.map((r) => r.tenant))];
  const accounts = [...new Set(rows.map((r) => r.account_id))];
  const groups = new Map<string, string | null>();
  const subjectOf = async (r: LedgerRow) => {
    if (r.scope !== 'g') return r.account_id;
    const k = `${r.tenant}/${r.account_id}`;
    if (!groups.has(k)) groups.set(k, await d.groupOf(r.tenant, r.account_id));
    return `g:${groups.get(k) ?? r.account_id}`;
  };
  const subjects: string[] = [];
  for (const r of rows) subjects.push(await subjectOf(r));
  const pairs = [...new Map(rows.map((r) => [`${r.tenant}/${r.account_id}`, r])).values()];
  const spendPeriodOf = await spendPeriods(
    c,
    schema,
    pairs.map((r) => ({ tenant: r.tenant, accountId: r.account_id })),
    new Date(Math.min(...rows.map((r) => r.at.getTime()))),
  );
  const periods = rows.map((r) => spendPeriodOf(r.tenant, r.account_id, r.at));
  const spendKeys = [...new Set(rows.map((r, i) => stateKey(r.tenant, r.account_id, '', periods[i]!)))];
  const p: Pass = {
    c,
    schema,
    rules: await rulesOf(c, schema, tenants),
    fired: await firedKeys(c, schema, tenants, [...subjects, ...accounts]),
    allowances: await allowancesOf(c, schema, tenants, subjects),
    spend: await spendOf(c, schema, spendKeys),
    states: new Map(),
    grants: new Map(),
    expiryOf: d.expiryOf,
    events: [],
  };
  const topUps = await enabledRules(c, schema, tenants, accounts);
  for (const [i, r] of rows.entries()) {
    const m: Movement = {
      unit: r.unit,
      kind: r.kind,
      delta: BigInt(r.delta),
      valueAfter: BigInt(r.value_after),
    };
    await judgeMovement(p, r, m, subjects[i]!, periods[i]!);
    const topUp = topUps.get(`${r.tenant}/${r.account_id}`);
    if (topUp && r.scope === 'a' && r.unit === 'money' && r.balance_id === topUp.balance_id)
      await onMoney(c, schema, topUp, { valueAfter: m.valueAfter, eventId: eventIdOf(r), at: r.at }, (e) =>
        p.events.push(e),
      );
  }
  // One statement for the pass's events (per-account sequences in movement order), in its transaction.
  for (let i = 0; i < p.events.length; i += EVENTS_PER_STATEMENT)
    await appendEvents(c, schema, p.events.slice(i, i + EVENTS_PER_STATEMENT));
  await writeStates(c, schema, p.states);
  await writeAllowances(c, schema, p.grants);
  await writeSpend(c, schema, p.spend);
}

/** Bounds one INSERT's arrays (a pass of 5,000 rows may cross many thresholds). */
const EVENTS_PER_STATEMENT = 5000;

const eventIdOf = (r: LedgerRow) => `notify:${r.stream}:${r.entry_id}:${r.seq}`;

/** Every rule of the tenant on one movement; a rule that starts to hold appends its event. */
async function judgeMovement(
  p: Pass,
  r: LedgerRow,
  m: Movement,
  subject: string,
  /** The spend period of the movement (spend-periods.ts): the bill period, or the UTC month. */
  period: string,
): Promise<void> {
  const aKey = stateKey(r.tenant, subject, '', r.balance_id);
  if (r.unit !== 'money' && isGrant(m)) {
    p.allowances.set(aKey, m.valueAfter);
    const expiryMs = (await p.expiryOf?.(r.tenant, r.account_id, r.balance_id)) ?? null;
    const expiresAt = expiryMs === null ? null : new Date(expiryMs);
    p.grants.set(aKey, { allowance: m.valueAfter, accountId: r.account_id, expiresAt });
  }
  const sKey = stateKey(r.tenant, r.account_id, '', period);
  const spent = (p.spend.get(sKey) ?? 0n) + spendDelta(m);
  if (spendDelta(m) !== 0n) p.spend.set(sKey, spent);
  for (const rule of p.rules.get(r.tenant) ?? []) {
    if (!rule.enabled || !watches(rule, r.unit)) continue;
    if (rule.accountId !== null && rule.accountId !== r.account_id) continue;
    // Spend is the account's in the period, whichever balance paid: its state is per period.
    const spendRule = rule.kind === 'spend_above';
    const key = spendRule
      ? stateKey(r.tenant, r.account_id, rule.code, `spend:${period}`)
      : stateKey(r.tenant, subject, rule.code, r.balance_id);
    const was = p.fired.has(key);
    const s = step(was, conditionHolds(rule, m, p.allowances.get(aKey) ?? null, spent));
    if (s.fired !== was) {
      p.states.set(key, s.fired);
      if (s.fired) p.fired.add(key);
      else p.fired.delete(key);
    }
    if (!s.fire) continue;
    const extra = spendRule ? { spent: nanoToDecimal(spent), period } : {};
    p.events.push({
      tenant: r.tenant,
      accountId: r.account_id,
      id: `${eventIdOf(r)}:${rule.code}`,
      type: EVENT_OF[rule.kind],
      occurredAt: r.at,
      payload: { ...payload(rule, r, m, subject, p.allowances.get(aKey)), ...extra },
    });
  }
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
