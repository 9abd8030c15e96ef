/**
 * Rerating on the rating pool: a worker takes stored CDRs as PostgreSQL COPY text (the columns of
 * RERATE_READ_COLUMNS), prices each again with the current tariff, compares with the stored price,
 * and hands back only what changed: the rows for the pending table (COPY text) and the money each
 * changed CDR has to move. Unchanged rows (most of them) never leave the worker.
 */
import { baseToUsage, compactBreakdownJson, rateEvent, usageToBase, type Tor } from '../rating/index.js';
import { copyJson } from './rows.js';
import { tariffFor, type TariffRef } from './worker.js';

/** The columns the rerate reads, in COPY order (answer_ms: the answer time in epoch ms, for rating). */
export const RERATE_READ_COLUMNS = [
  'tenant',
  'account_id',
  'cdr_id',
  'answer_time',
  'answer_ms',
  'category',
  'service',
  'destination',
  'usage',
  'cost_nano',
  'charged_nano',
  'rerated',
] as const;

/**
 * The columns of the pending table, in COPY order: a changed CDR's new price, and how much of the
 * difference moves money (0 when bundles paid it).
 */
export const PENDING_COLUMNS = [
  'cdr_id',
  'answer_time',
  'tenant',
  'account_id',
  'rerated',
  'cost_nano',
  'charged_delta_nano',
  'rated_usage',
  'breakdown',
] as const;

export interface RerateRequest {
  /** Whole COPY text rows of RERATE_READ_COLUMNS, each ending with a line break. */
  rows: string;
  /** Rating subject per account, keyed by the row's first two fields as read (`tenant\taccount_id`). */
  subjects: Record<string, string>;
}

export interface RerateTask extends TariffRef, RerateRequest {
  kind: 'rerate';
}

/** A money difference to move for one CDR (integer nano as a decimal string, negative = refund). */
export interface MoneyMove {
  tenant: string;
  accountId: string;
  cdrId: string;
  rerated: number;
  deltaNano: string;
}

export interface RerateChunkResult {
  examined: number;
  unchanged: number;
  /** Changed CDRs (each has a pending row). */
  changed: number;
  /** Changed CDRs that bundles paid: re-priced, no money to move. */
  bundlePaid: number;
  failed: Record<string, number>;
  /** COPY text rows of PENDING_COLUMNS, one per changed CDR. */
  pending: string;
  moves: MoneyMove[];
  /** Milliseconds the worker spent on the rows. */
  ms: number;
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** A COPY text value with its backslash escapes undone (PostgreSQL writes only these). */
export function copyUnescape(v: string): string {
  if (v.indexOf('\\') < 0) return v;
  return v.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

/** The fields of one COPY text row (still escaped). */
function fieldsOf(text: string, from: number, to: number, out: string[]): void {
  let at = from;
  for (let i = 0; i < RERATE_READ_COLUMNS.length; i++) {
    let end = text.indexOf('\t', at);
    if (end < 0 || end > to) end = to;
    out[i] = text.slice(at, end);
    at = end + 1;
  }
}

class RerateBuilder implements RerateChunkResult {
  examined = 0;
  unchanged = 0;
  changed = 0;
  bundlePaid = 0;
  failed: Record<string, number> = {};
  pending = '';
  moves: MoneyMove[] = [];
  ms = 0;

  fail(code: string): void {
    this.failed[code] = (this.failed[code] ?? 0) + 1;
  }
}

/** Prices the rows again and keeps what changed. */
export async function rerateRows(task: RerateTask): Promise<RerateChunkResult> {
  const t0 = performance.now();
  const tariff = await tariffFor(task);
  const out = new RerateBuilder();
  const f: string[] = new Array<string>(RERATE_READ_COLUMNS.length);
  const text = task.rows;
  for (let at = 0; at < text.length;) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    fieldsOf(text, at, end, f);
    rerateOne(tariff, task.subjects, f, out);
    at = end + 1;
  }
  out.ms = performance.now() - t0;
  return out;
}

function rerateOne(
  tariff: Awaited<ReturnType<typeof tariffFor>>,
  subjects: Record<string, string>,
  f: string[],
  out: RerateBuilder,
): void {
  const [tenant, accountId, cdrId, answerTime, answerMs, category, service, destination] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    Tor,
    string,
  ];
  const [usage, costNano, chargedNano, rerated] = f.slice(8) as [string, string, string, string];
  out.examined++;
  const rated = rateEvent(tariff, {
    tenant: copyUnescape(tenant),
    category: copyUnescape(category),
    subject: subjects[`${tenant}\t${accountId}`] ?? copyUnescape(accountId),
    destination: copyUnescape(destination),
    answerTimeMs: Number(answerMs),
    usage: usageToBase(service, Number(usage)),
    tor: service,
  });
  if (!rated.ok) return out.fail(rated.code);
  const oldCost = BigInt(costNano);
  if (rated.costNano === oldCost) return void out.unchanged++;
  // Money paid the whole old price: the difference moves money. Otherwise bundles paid (part of)
  // it, and what a bundle covered has no money price to correct.
  const paidByMoney = BigInt(chargedNano) === oldCost;
  const delta = paidByMoney ? rated.costNano - oldCost : 0n;
  out.changed++;
  if (!paidByMoney) out.bundlePaid++;
  else
    out.moves.push({
      tenant: copyUnescape(tenant),
      accountId: copyUnescape(accountId),
      cdrId: copyUnescape(cdrId),
      rerated: Number(rerated),
      deltaNano: String(delta),
    });
  const ratedUsage = baseToUsage(service, rated.ratedUsage);
  // cdr_id, answer_time, tenant and account_id go back as read: already COPY-escaped.
  out.pending +=
    `${cdrId}\t${answerTime}\t${tenant}\t${accountId}\t${rerated}\t${rated.costNano}\t${delta}\t` +
    `${ratedUsage}\t${copyJson(compactBreakdownJson(rated))}\n`;
}

export default rerateRows;
