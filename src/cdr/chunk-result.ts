/**
 * What a rating worker makes of a chunk of CDR lines: per rated CDR its COPY rows and what charging
 * needs, built a CDR at a time as the lines are rated, in a shape that is cheap to pass between threads.
 */
import { baseToUsage, compactBreakdownJson, type RatingResult } from '../rating/index.js';
import type { CdrRecord, CdrReject } from './format.js';
import { contentHash, lineHash } from './content-hash.js';
import { CopyBuffer, copyField, copyJson } from './rows.js';

/** Units of CDRs as codes in `ChunkResult.unit`. */
export const UNITS = ['voice', 'data', 'sms', 'generic'] as const;

/**
 * A few long strings and typed arrays (thousands of small strings would cost the main thread more
 * to receive than the worker to make). Per rated CDR i: its COPY rows end at rowEnds[i] /
 * claimEnds[i] (with the money charged written as the price: the main thread changes it only where
 * charging differed).
 */
export interface ChunkResult {
  rejects: CdrReject[];
  /** The months ('2026-11') the rated CDRs fall in (their partitions). */
  months: string[];
  /** The accounts of the chunk: CDR i's is tenants[account[i]] / accountIds[account[i]]. */
  tenants: string[];
  accountIds: string[];
  /** The accounts' currencies (what their CDRs were charged in): CDR i's is currencies[account[i]]. */
  currencies: string[];
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
  /**
   * What balance destination filters match (`Resolution.balanceDestinations`, docs/BALANCES.md) and
   * the category, as dictionary indexes.
   */
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
  /** Milliseconds the worker spent on the chunk, and on looking subscribers up (part of it). */
  timing: { total: number; lookup: number };
}

/** The account a CDR is charged to, with its COPY fields escaped once. */
export interface ChunkAccount {
  tenant: string;
  id: string;
  currency: string;
  copy: { tenant: string; id: string; currency: string };
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

export class ChunkBuilder {
  readonly rejects: CdrReject[] = [];
  private n = 0;
  private readonly tenants: string[] = [];
  private readonly accountIds: string[] = [];
  private readonly currencies: string[] = [];
  private readonly accountIndex = new Map<ChunkAccount, number>();
  private readonly destinations: string[] = [];
  private readonly destIndex = new Map<string, number>();
  private readonly categories: string[] = [];
  private readonly catIndex = new Map<string, number>();
  private readonly months = new Set<string>();
  // The month of the last CDR: most CDRs of a chunk share it.
  private monthFrom = 0;
  private monthTo = 0;
  private readonly rows: CopyBuffer;
  private readonly claims: CopyBuffer;
  private readonly fileId: string;
  private readonly account: Int32Array;
  private readonly costNano: Float64Array;
  private readonly units: Float64Array;
  private readonly unit: Uint8Array;
  private readonly destination: Int32Array;
  private readonly category: Int32Array;
  private readonly ratingGroup: Int32Array;
  private readonly line: Int32Array;
  private readonly rawStart: Int32Array;
  private readonly rawEnd: Int32Array;

  /** `source`: the chunk's text, of at most `lines` lines. */
  constructor(
    private readonly source: string,
    lines: number,
    fileId: string,
    /** The chunk's bytes, when they are the text's characters one for one (ASCII). */
    private readonly bytes?: Uint8Array,
  ) {
    this.fileId = copyField(fileId);
    // A rated row is about five times its line; a claim about half of it.
    this.rows = new CopyBuffer(source.length * 6 + 65536, lines);
    this.claims = new CopyBuffer(source.length + 65536, lines);
    this.account = new Int32Array(lines);
    this.costNano = new Float64Array(lines);
    this.units = new Float64Array(lines);
    this.unit = new Uint8Array(lines);
    this.destination = new Int32Array(lines);
    this.category = new Int32Array(lines);
    this.ratingGroup = new Int32Array(lines);
    this.line = new Int32Array(lines);
    this.rawStart = new Int32Array(lines);
    this.rawEnd = new Int32Array(lines);
  }

  /** A rated CDR whose line starts at `start` in the chunk's text. */
  add(r: CdrRecord, start: number, a: ChunkAccount, rated: RatingResult): void {
    if (r.answerTimeMs < this.monthFrom || r.answerTimeMs >= this.monthTo) {
      const d = new Date(r.answerTimeMs);
      this.monthFrom = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      this.monthTo = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      this.months.add(d.toISOString().slice(0, 7));
    }
    let ai = this.accountIndex.get(a);
    if (ai === undefined) {
      ai = this.tenants.push(a.tenant) - 1;
      this.accountIds.push(a.id);
      this.currencies.push(a.currency);
      this.accountIndex.set(a, ai);
    }
    const n = this.n++;
    const costNano = Number(rated.costNano);
    this.account[n] = ai;
    this.costNano[n] = costNano;
    this.units[n] = rated.usage;
    this.unit[n] = UNITS.indexOf(r.service);
    this.destination[n] = indexIn(this.destinations, this.destIndex, rated.segments[0]!.balanceDestinations);
    this.category[n] = indexIn(this.categories, this.catIndex, r.category);
    this.ratingGroup[n] = r.ratingGroup ?? -1;
    this.line[n] = r.line;
    this.rawStart[n] = start;
    this.rawEnd[n] = start + r.raw.length;
    // One template per row (strings checked once: ids from the file may hold a tab or backslash;
    // times, usage, service and numbers were validated and never do).
    const c = a.copy;
    const cdrId = copyField(r.cdrId);
    this.rows.append(
      `${cdrId}\t${c.tenant}\t${c.id}\t${copyField(r.subscriber)}\t${copyField(r.category)}\t${r.service}\t` +
        `${copyField(r.destination)}\t${r.startTime}\t${r.usage}\t${baseToUsage(r.service, rated.ratedUsage)}\t${costNano}\t` +
        `${c.currency}\t${copyJson(compactBreakdownJson(rated))}\t${this.fileId}\t${r.line}\t${costNano}\n`,
    );
    // An ASCII chunk's characters are its bytes: the line is hashed where it lies.
    const hash = this.bytes ? contentHash(this.bytes, start, start + r.raw.length) : lineHash(r.raw);
    this.claims.append(`${c.tenant}\t${cdrId}\t${r.startTime}\t${this.fileId}\t${hash}\n`);
  }

  finish(timing: ChunkResult['timing']): ChunkResult {
    const n = this.n;
    const cut = <T extends Int32Array | Float64Array | Uint8Array>(a: T) => a.subarray(0, n) as T;
    const rows = this.rows.take();
    const claims = this.claims.take();
    return {
      rejects: this.rejects,
      months: [...this.months],
      tenants: this.tenants,
      accountIds: this.accountIds,
      currencies: this.currencies,
      n,
      rows: rows.bytes,
      rowEnds: rows.ends,
      claims: claims.bytes,
      claimEnds: claims.ends,
      account: cut(this.account),
      costNano: cut(this.costNano),
      units: cut(this.units),
      unit: cut(this.unit),
      destination: cut(this.destination),
      destinations: this.destinations,
      category: cut(this.category),
      categories: this.categories,
      ratingGroup: cut(this.ratingGroup),
      line: cut(this.line),
      source: this.source,
      rawStart: cut(this.rawStart),
      rawEnd: cut(this.rawEnd),
      timing,
    };
  }
}
