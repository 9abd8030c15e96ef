/**
 * A rating worker (piscina). Loads the tariff once per folder and version, then either prices
 * events (rerating), or takes a chunk of CDR file lines and does everything that needs no shared
 * state: parse, find each subscriber's account (remembered for the job), rate with the pure core,
 * and write the COPY rows. Plain data out; what the balances decide is the main thread's.
 */
import type { RedisOptions } from 'ioredis';
import { Redis } from 'ioredis';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { createBalanceStore, type BalanceStore } from '../balances/store.js';
import {
  baseToUsage,
  compactBreakdown,
  compactBreakdownJson,
  compileTariff,
  describeResult,
  parseEvent,
  rateEvent,
  usageToBase,
  type CompiledTariff,
} from '../rating/index.js';
import { loadTariffFolder } from '../tariffs/load.js';
import type { CdrField, CdrReject, ColumnMapping } from './format.js';
import { parseLines } from './parse.js';
import { CopyBuffer, copyField, copyJson } from './rows.js';

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
  redis: RedisOptions;
  keyPrefix: string;
  job: string;
}

export interface ChunkTask extends TariffRef {
  kind: 'chunk';
  directory: Directory;
  bytes: ArrayBuffer;
  firstLine: number;
  index: Partial<Record<CdrField, number>>;
  mapping: ColumnMapping;
  fileId: string;
}

/** Units of CDRs as codes in `ChunkResult.unit`. */
export const UNITS = ['voice', 'data', 'sms', 'generic'] as const;

/**
 * What a chunk rated to, in a shape that is cheap to pass between threads (a few long strings and
 * typed arrays: thousands of small strings would cost the main thread more to receive than the
 * worker to make). Per rated CDR i: its COPY rows end at rowEnds[i] / claimEnds[i] (with the money
 * charged written as the price: the main thread changes it only where charging differed).
 */
export interface ChunkResult {
  rejects: CdrReject[];
  /** The months ('2026-11') the rated CDRs fall in (their partitions). */
  months: string[];
  /** The accounts of the chunk: CDR i's is tenants[account[i]] / accountIds[account[i]]. */
  tenants: string[];
  accountIds: string[];
  /** Rated CDRs. */
  n: number;
  /** COPY text (UTF-8) of rated_cdrs (RATED_COLUMNS, charged_nano = cost_nano) and of cdr_ids, a row a CDR; ends in bytes. */
  rows: Uint8Array;
  rowEnds: Int32Array;
  claims: Uint8Array;
  claimEnds: Int32Array;
  account: Int32Array;
  costNano: Float64Array;
  /** Usage in base units (ns of voice, bytes, messages): what unit balances pay. */
  units: Float64Array;
  /** Index into UNITS. */
  unit: Uint8Array;
  /** The rated destination id (what bundles are restricted to) and the category, as dictionary indexes. */
  destination: Int32Array;
  destinations: string[];
  category: Int32Array;
  categories: string[];
  /** -1 when none. */
  ratingGroup: Int32Array;
  line: Int32Array;
  /** The chunk as read, and where each rated CDR's line is in it (for a reject after charging). */
  source: string;
  rawStart: Int32Array;
  rawEnd: Int32Array;
  timing: { parse: number; lookup: number; rate: number };
}

let cached: { key: string; tariff: CompiledTariff } | undefined;

async function tariffFor(t: TariffRef): Promise<CompiledTariff> {
  const key = `${t.tariffDir}\u0000${t.timezone ?? ''}\u0000${t.version}`;
  if (cached?.key !== key) {
    const loaded = await loadTariffFolder(t.tariffDir, t.timezone ? { timezone: t.timezone } : {});
    cached = { key, tariff: compileTariff(loaded.plan) };
  }
  return cached.tariff;
}

interface Subscriber {
  id: string;
  subject: string;
  currency: string;
}

let lookups:
  { key: string; job: string; store: BalanceStore; known: Map<string, Subscriber | null> } | undefined;

/** The accounts of these subscribers (msisdn), remembered for the job. */
async function subscribers(
  d: Directory,
  wanted: [string, string][],
): Promise<Map<string, Subscriber | null>> {
  const key = `${JSON.stringify(d.redis)}\u0000${d.keyPrefix}`;
  if (lookups?.key !== key) {
    void lookups?.store.redis.quit().catch(() => undefined);
    const redis = new Redis({ ...d.redis, enableAutoPipelining: true });
    lookups = {
      key,
      job: d.job,
      store: createBalanceStore({ redis, keyPrefix: d.keyPrefix }),
      known: new Map(),
    };
  }
  if (lookups.job !== d.job) lookups = { ...lookups, job: d.job, known: new Map() };
  const { store, known } = lookups;
  const missing = wanted.filter(([tenant, msisdn]) => !known.has(`${tenant}\u0000${msisdn}`));
  await Promise.all(
    missing.map(async ([tenant, msisdn]) => {
      const id = await store.findAccountBySubscription(tenant, 'msisdn', msisdn);
      const a = id ? await store.accountInfo(tenant, id) : null;
      known.set(
        `${tenant}\u0000${msisdn}`,
        a ? { id: a.id, subject: a.subject, currency: a.currency } : null,
      );
    }),
  );
  return known;
}

/** Index of `v` in a chunk's dictionary. */
function indexIn(dict: string[], index: Map<string, number>, v: string): number {
  let i = index.get(v);
  if (i === undefined) {
    i = dict.push(v) - 1;
    index.set(v, i);
  }
  return i;
}

async function rateChunk(task: ChunkTask): Promise<ChunkResult> {
  let t = performance.now();
  const tariff = await tariffFor(task);
  const source = Buffer.from(task.bytes).toString('utf8');
  const { records, rejects, starts } = parseLines(source, task.firstLine, task.index, task.mapping);
  const timing = { parse: performance.now() - t, lookup: 0, rate: 0 };
  t = performance.now();
  const wanted = new Map<string, [string, string]>();
  for (const r of records) wanted.set(`${r.tenant}\u0000${r.subscriber}`, [r.tenant, r.subscriber]);
  const known = await subscribers(task.directory, [...wanted.values()]);
  timing.lookup = performance.now() - t;
  t = performance.now();
  const m = records.length;
  const out = {
    tenants: [] as string[],
    accountIds: [] as string[],
    destinations: [] as string[],
    categories: [] as string[],
    account: new Int32Array(m),
    costNano: new Float64Array(m),
    units: new Float64Array(m),
    unit: new Uint8Array(m),
    destination: new Int32Array(m),
    category: new Int32Array(m),
    ratingGroup: new Int32Array(m),
    line: new Int32Array(m),
    rawStart: new Int32Array(m),
    rawEnd: new Int32Array(m),
  };
  const accountIndex = new Map<string, number>();
  const destIndex = new Map<string, number>();
  const catIndex = new Map<string, number>();
  const months = new Set<string>();
  let monthFrom = 0;
  let monthTo = 0; // the month of the last CDR: most CDRs of a chunk share it
  // A rated row is about five times its line; a claim about half of it.
  const rows = new CopyBuffer(task.bytes.byteLength * 6 + 65536, m);
  const claims = new CopyBuffer(task.bytes.byteLength + 65536, m);
  const fileId = copyField(task.fileId);
  const accountFields: { tenant: string; id: string; currency: string }[] = [];
  let n = 0;
  for (let k = 0; k < records.length; k++) {
    const r = records[k]!;
    const s = known.get(`${r.tenant}\u0000${r.subscriber}`);
    if (!s) {
      rejects.push({
        line: r.line,
        reason: 'UNKNOWN_SUBSCRIBER',
        detail: `no account has msisdn ${r.subscriber}`,
        raw: r.raw,
      });
      continue;
    }
    const rated = rateEvent(tariff, {
      tenant: r.tenant,
      category: r.category,
      subject: r.subject ?? s.subject,
      destination: r.destination,
      answerTimeMs: r.answerTimeMs,
      usage: usageToBase(r.service, r.usage),
      tor: r.service,
    });
    if (!rated.ok) {
      rejects.push({ line: r.line, reason: rated.code, detail: rated.message, raw: r.raw });
      continue;
    }
    if (r.answerTimeMs < monthFrom || r.answerTimeMs >= monthTo) {
      const d = new Date(r.answerTimeMs);
      monthFrom = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      monthTo = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      months.add(d.toISOString().slice(0, 7));
    }
    const akey = `${r.tenant}\u0000${s.id}`;
    let ai = accountIndex.get(akey);
    if (ai === undefined) {
      ai = out.tenants.push(r.tenant) - 1;
      out.accountIds.push(s.id);
      accountFields.push({
        tenant: copyField(r.tenant),
        id: copyField(s.id),
        currency: copyField(s.currency),
      });
      accountIndex.set(akey, ai);
    }
    const costNano = Number(rated.costNano);
    out.account[n] = ai;
    out.costNano[n] = costNano;
    out.units[n] = rated.usage;
    out.unit[n] = UNITS.indexOf(r.service);
    out.destination[n] = indexIn(out.destinations, destIndex, rated.segments[0]!.destination);
    out.category[n] = indexIn(out.categories, catIndex, r.category);
    out.ratingGroup[n] = r.ratingGroup ?? -1;
    out.line[n] = r.line;
    out.rawStart[n] = starts[k]!;
    out.rawEnd[n] = starts[k]! + r.raw.length;
    // One template per row (strings checked once: ids from the file may hold a tab or backslash;
    // times, usage, service and numbers were validated and never do).
    const a = accountFields[ai]!;
    const row =
      `${copyField(r.cdrId)}\t${a.tenant}\t${a.id}\t${copyField(r.subscriber)}\t${copyField(r.category)}\t${r.service}\t` +
      `${copyField(r.destination)}\t${r.startTime}\t${r.usage}\t${baseToUsage(r.service, rated.ratedUsage)}\t${costNano}\t` +
      `${a.currency}\t${copyJson(compactBreakdownJson(rated))}\t${fileId}\t${r.line}\t${costNano}\n`;
    const claim = `${copyField(r.cdrId)}\t${r.startTime}\t${fileId}\n`;
    rows.append(row);
    claims.append(claim);
    n++;
  }
  timing.rate = performance.now() - t;
  const cut = <T extends Int32Array | Float64Array | Uint8Array>(a: T) => a.subarray(0, n) as T;
  const rowsOut = rows.take();
  const claimsOut = claims.take();
  return {
    rejects,
    months: [...months],
    tenants: out.tenants,
    accountIds: out.accountIds,
    n,
    rows: rowsOut.bytes,
    rowEnds: rowsOut.ends,
    claims: claimsOut.bytes,
    claimEnds: claimsOut.ends,
    account: cut(out.account),
    costNano: cut(out.costNano),
    units: cut(out.units),
    unit: cut(out.unit),
    destination: cut(out.destination),
    destinations: out.destinations,
    category: cut(out.category),
    categories: out.categories,
    ratingGroup: cut(out.ratingGroup),
    line: cut(out.line),
    source,
    rawStart: cut(out.rawStart),
    rawEnd: cut(out.rawEnd),
    timing,
  };
}

async function rateEvents(task: RateTask): Promise<RateOutcome[]> {
  const tariff = await tariffFor(task);
  return task.events.map((e) => {
    const ev = parseEvent({ ...e, answerTime: e.startTime });
    if ('ok' in ev) return { ok: false, code: ev.code, message: ev.message };
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
