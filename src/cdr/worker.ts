/**
 * A rating worker (piscina). Loads the tariff once per folder and version, then either prices
 * events (rerating), or takes a chunk of CDR file lines and does everything that needs no shared
 * state: parse, find each subscriber's account (remembered for the job), rate with the pure core,
 * and write the COPY rows. Plain data out; what the balances decide is the main thread's.
 */
import type { RedisOptions } from 'ioredis';
import { Cluster, Redis } from 'ioredis';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { createBalanceStore, type BalanceStore } from '../balances/store.js';
import { boundedOptions } from '../infra/redis.js';
import {
  compactBreakdown,
  compileTariff,
  describeResult,
  parseEvent,
  rateEvent,
  usageToBase,
  type CompiledTariff,
} from '../rating/index.js';
import { loadTariffFolder } from '../tariffs/load.js';
import { dialledNumber } from '../rating/number-format.js';
import { ChunkBuilder, type ChunkAccount, type ChunkResult } from './chunk-result.js';
import type { CdrField, CdrRecord, ColumnMapping, LineRules } from './format.js';
import { eachLine } from './parse.js';
import { copyField } from './rows.js';

export interface TariffRef {
  tariffDir: string;
  timezone?: string;
  /** Bumped on a reload: a new version makes the worker load the tariff again. */
  version: number;
}

export interface RateTask extends TariffRef {
  kind?: 'events';
  events: {
    tenant: string;
    category: string;
    subject: string;
    destination: string;
    startTime: string;
    usage: number;
    tor: string;
  }[];
}

export type RateOutcome =
  | { ok: true; costNano: string; ratedUsage: number; destination: string; breakdown: unknown }
  | { ok: false; code: string; message: string };

/** Where subscribers are found: the engine's Redis and key prefix; a new `job` forgets them. */
export interface Directory {
  /** Connection options (of every node, on a Cluster). */
  redis: RedisOptions;
  /** A Cluster's masters, when the engine's Redis is one. */
  clusterNodes?: { host: string; port: number }[];
  keyPrefix: string;
  job: string;
}

export interface ChunkTask extends TariffRef {
  kind: 'chunk';
  directory: Directory;
  bytes: ArrayBuffer;
  firstLine: number;
  index: Partial<Record<CdrField, number>>;
  /** Columns in the file's header. */
  columns: number;
  mapping: ColumnMapping;
  /** The only tenant the lines may name, and the latest start time (see LineRules). */
  tenant?: string;
  latestMs?: number;
  fileId: string;
}

let cached: { key: string; tariff: CompiledTariff } | undefined;

export async function tariffFor(t: TariffRef): Promise<CompiledTariff> {
  const key = `${t.tariffDir}\u0000${t.timezone ?? ''}\u0000${t.version}`;
  if (cached?.key !== key) {
    const loaded = await loadTariffFolder(t.tariffDir, t.timezone ? { timezone: t.timezone } : {});
    cached = { key, tariff: compileTariff(loaded.plan) };
  }
  return cached.tariff;
}

/** A subscriber's account and rating subject. */
interface Subscriber {
  account: ChunkAccount;
  subject: string;
}

/** The subscribers of a job: tenant → msisdn → who has it (null: nobody), looked up once. */
interface Lookups {
  key: string;
  job: string;
  store: BalanceStore;
  known: Map<string, Map<string, Subscriber | null>>;
  /** One ChunkAccount per account, whichever of its subscriptions a CDR names. */
  accounts: Map<string, ChunkAccount>;
}

let lookups: Lookups | undefined;

function lookupsFor(d: Directory): Lookups {
  const key = `${JSON.stringify([d.redis, d.clusterNodes])}\u0000${d.keyPrefix}`;
  if (lookups?.key !== key) {
    void lookups?.store.redis.quit().catch(() => undefined);
    // A lookup never hangs on a Redis that went away: it fails, and the chunk with it.
    const options = { ...boundedOptions(), ...d.redis };
    const redis = d.clusterNodes
      ? new Cluster(d.clusterNodes, { redisOptions: options, enableAutoPipelining: true })
      : new Redis(options);
    redis.on('error', () => undefined); // what it says reaches the lookups as their commands fail
    const store = createBalanceStore({ redis, keyPrefix: d.keyPrefix });
    lookups = { key, job: d.job, store, known: new Map(), accounts: new Map() };
  }
  if (lookups.job !== d.job) lookups = { ...lookups, job: d.job, known: new Map(), accounts: new Map() };
  return lookups;
}

function knownOf(l: Lookups, tenant: string, msisdn: string): Subscriber | null | undefined {
  return l.known.get(tenant)?.get(msisdn);
}

/** Looks up the subscribers of these records that the job does not know yet. */
async function lookUp(l: Lookups, records: CdrRecord[]): Promise<void> {
  const wanted = new Map<string, Set<string>>(); // tenant → msisdns
  for (const r of records) {
    if (knownOf(l, r.tenant, r.subscriber) !== undefined) continue;
    let msisdns = wanted.get(r.tenant);
    if (!msisdns) wanted.set(r.tenant, (msisdns = new Set()));
    msisdns.add(r.subscriber);
  }
  for (const [tenant, set] of wanted) {
    const msisdns = [...set];
    const found = await l.store.subscribersOf(tenant, 'msisdn', msisdns);
    let byMsisdn = l.known.get(tenant);
    if (!byMsisdn) l.known.set(tenant, (byMsisdn = new Map()));
    for (const [i, a] of found.entries())
      byMsisdn.set(msisdns[i]!, a ? { account: accountOf(l, tenant, a), subject: a.subject } : null);
  }
}

function accountOf(l: Lookups, tenant: string, a: { id: string; currency: string }): ChunkAccount {
  const key = `${tenant}\u0000${a.id}`;
  let account = l.accounts.get(key);
  if (!account) {
    const copy = { tenant: copyField(tenant), id: copyField(a.id), currency: copyField(a.currency) };
    l.accounts.set(key, (account = { tenant, id: a.id, currency: a.currency, copy }));
  }
  return account;
}

/** Lines in a text (an upper bound on its records). */
function lineCount(text: string): number {
  let n = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) n++;
  return n;
}

/**
 * Parses, rates and writes the rows of a chunk a line at a time, so that what a line makes is
 * garbage before the next (the records of a whole chunk kept at once would outlive the young
 * generation and cost a copy each). A line whose subscriber the job has not looked up yet stops
 * that: it and the lines after it are parsed and kept, their subscribers looked up, then rated.
 * Either way the CDRs come out in file order.
 */
async function rateChunk(task: ChunkTask): Promise<ChunkResult> {
  const t0 = performance.now();
  const tariff = await tariffFor(task);
  const l = lookupsFor(task.directory);
  const bytes = new Uint8Array(task.bytes);
  const source = Buffer.from(task.bytes).toString('utf8');
  const ascii = source.length === bytes.length;
  const out = new ChunkBuilder(source, lineCount(source), task.fileId, ascii ? bytes : undefined);
  const rate = (r: CdrRecord, start: number, s: Subscriber | null | undefined) => {
    if (!s) {
      const detail = `no account has msisdn ${r.subscriber}`;
      out.rejects.push({ line: r.line, reason: 'UNKNOWN_SUBSCRIBER', detail, raw: r.raw });
      return;
    }
    // Rated and stored as the tenant's number rules make it, as the charging API does.
    r.destination = dialledNumber(tariff.numbers, r.tenant, r.destination);
    const rated = rateEvent(tariff, {
      tenant: r.tenant,
      category: r.category,
      subject: r.subject ?? s.subject,
      destination: r.destination,
      answerTimeMs: r.answerTimeMs,
      usage: usageToBase(r.service, r.usage),
      tor: r.service,
    });
    if (rated.ok) out.add(r, start, s.account, rated);
    else out.rejects.push({ line: r.line, reason: rated.code, detail: rated.message, raw: r.raw });
  };
  const later: CdrRecord[] = [];
  const laterStarts: number[] = [];
  const rules: LineRules = { index: task.index, columns: task.columns, mapping: task.mapping };
  if (task.tenant !== undefined) rules.tenant = task.tenant;
  if (task.latestMs !== undefined) rules.latestMs = task.latestMs;
  eachLine(
    source,
    task.firstLine,
    rules,
    (r, start) => {
      const s = later.length ? undefined : knownOf(l, r.tenant, r.subscriber);
      if (s !== undefined) return rate(r, start, s);
      later.push(r);
      laterStarts.push(start);
    },
    (j) => out.rejects.push(j),
  );
  let lookup = 0;
  if (later.length) {
    const t = performance.now();
    await lookUp(l, later);
    lookup = performance.now() - t;
    later.forEach((r, k) => rate(r, laterStarts[k]!, knownOf(l, r.tenant, r.subscriber)));
  }
  return out.finish({ total: performance.now() - t0, lookup });
}

async function rateEvents(task: RateTask): Promise<RateOutcome[]> {
  const tariff = await tariffFor(task);
  return task.events.map((e) => {
    const ev = parseEvent({ ...e, answerTime: e.startTime });
    if ('ok' in ev) return { ok: false, code: ev.code, message: ev.message };
    ev.destination = dialledNumber(tariff.numbers, ev.tenant, ev.destination);
    const r = rateEvent(tariff, ev);
    if (!r.ok) return { ok: false, code: r.code, message: r.message };
    const b = describeResult(r);
    return {
      ok: true,
      costNano: String(r.costNano),
      ratedUsage: b.ratedUsage,
      destination: r.segments[0]!.destination,
      breakdown: compactBreakdown(r),
    };
  });
}

/** The chunk's result with its buffers moved to the main thread, not copied. */
function moved(r: ChunkResult): ChunkResult {
  const buffers = new Set<ArrayBuffer>();
  for (const v of Object.values(r)) if (ArrayBuffer.isView(v)) buffers.add(v.buffer as ArrayBuffer);
  const transferable = { [transferableSymbol]: [...buffers], [valueSymbol]: r };
  return move(transferable as never) as unknown as ChunkResult;
}

export default async function work(task: RateTask | ChunkTask): Promise<RateOutcome[] | ChunkResult> {
  return task.kind === 'chunk' ? moved(await rateChunk(task)) : rateEvents(task);
}
