/**
 * Imports a CDR file: read in batches → find each subscriber's account → rate on the worker pool →
 * charge each CDR (idempotent by its id) → store rated CDRs (COPY, once per id) and rejects.
 *
 * Exactly once: CDR ids already stored are skipped before charging; the rest are charged with the
 * CDR id as operation id (a retry replays, it does not charge again), then stored. A crash between
 * charging and storing leaves CDRs charged and not stored: the rerun replays their charges and
 * stores them. Every line ends as a stored CDR, a duplicate or a reject.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../balances/store.js';
import type { Account } from '../balances/model.js';
import type { CdrRecord, CdrReject, ColumnMapping } from './format.js';
import type { RatingPool } from './pool.js';
import { readCdrBatches } from './read.js';
import { storeRatedCdrs, storeRejects, type RatedCdrRow } from './store.js';

export interface ImportCounters {
  read: number;
  stored: number;
  duplicates: number;
  rejected: Record<string, number>;
  chargedNano: number;
  bytesRead: number;
  /** Where the time went, ms: reading and parsing, rating on the pool, charging, storing. */
  timing: { read: number; rate: number; charge: number; store: number };
}

export interface ImportDeps {
  balances: BalanceStore;
  pool: Pool;
  schema: string;
  rating: RatingPool;
}

const SUBSCRIPTION_TYPE = 'msisdn';

async function knownIds(pool: Pool, schema: string, ids: string[]): Promise<Set<string>> {
  const r = await pool.query<{ cdr_id: string }>(
    `SELECT cdr_id FROM ${schema}.cdr_ids WHERE cdr_id = ANY($1)`,
    [ids],
  );
  return new Set(r.rows.map((x) => x.cdr_id));
}

async function accountsOf(
  balances: BalanceStore,
  records: CdrRecord[],
  cache: Map<string, Account | null>,
): Promise<void> {
  const missing = [...new Set(records.map((r) => `${r.tenant}\u0000${r.subscriber}`))].filter(
    (k) => !cache.has(k),
  );
  await Promise.all(
    missing.map(async (k) => {
      const [tenant, subscriber] = k.split('\u0000') as [string, string];
      const id = await balances.findAccountBySubscription(tenant, SUBSCRIPTION_TYPE, subscriber);
      cache.set(k, id ? await balances.accountInfo(tenant, id) : null);
    }),
  );
}

/** Rates, charges and stores one batch; returns what happened to it. */
async function importBatch(
  deps: ImportDeps,
  fileId: string,
  records: CdrRecord[],
  rejects: CdrReject[],
  cache: Map<string, Account | null>,
  c: ImportCounters,
): Promise<void> {
  const known = records.length
    ? await knownIds(
        deps.pool,
        deps.schema,
        records.map((r) => r.cdrId),
      )
    : new Set<string>();
  const fresh = records.filter((r) => !known.has(r.cdrId));
  c.duplicates += records.length - fresh.length;
  await accountsOf(deps.balances, fresh, cache);
  const reject = (r: CdrRecord, reason: string, detail: string) => {
    rejects.push({ line: r.line, reason, detail, raw: r.raw });
  };
  const priced: CdrRecord[] = [];
  for (const r of fresh) {
    if (cache.get(`${r.tenant}\u0000${r.subscriber}`)) priced.push(r);
    else reject(r, 'UNKNOWN_SUBSCRIBER', `no account has msisdn ${r.subscriber}`);
  }
  let t = performance.now();
  const outcomes = await deps.rating.rate(
    priced.map((r) => {
      const a = cache.get(`${r.tenant}\u0000${r.subscriber}`)!;
      return {
        tenant: r.tenant,
        category: r.category,
        subject: r.subject ?? a.subject,
        destination: r.destination,
        startTime: r.startTime,
        usage: r.usage,
        tor: r.service,
      };
    }),
  );
  c.timing.rate += performance.now() - t;
  t = performance.now();
  const rows: RatedCdrRow[] = [];
  await Promise.all(
    priced.map(async (r, i) => {
      const o = outcomes[i]!;
      if (!o.ok) return reject(r, o.code, o.message);
      const a = cache.get(`${r.tenant}\u0000${r.subscriber}`)!;
      const units = r.service === 'voice' ? Math.round(r.usage * 1e9) : r.usage;
      const charge = await deps.balances.debit(r.tenant, a.id, {
        opId: `cdr:${r.cdrId}`,
        charge: {
          unit: r.service,
          units,
          amountNano: Number(o.costNano),
          destination: o.destination,
          category: r.category,
          ...(r.ratingGroup !== undefined ? { ratingGroup: r.ratingGroup } : {}),
        },
      });
      if (charge.code !== 'OK')
        return reject(
          r,
          charge.code === 'INSUFFICIENT' ? 'INSUFFICIENT_CREDIT' : charge.code,
          `the account could not be charged: ${charge.code}`,
        );
      const charged = charge.movements.reduce((s, m) => s + (m.unit === 'money' ? -m.delta : 0), 0);
      rows.push({
        cdr_id: r.cdrId,
        tenant: r.tenant,
        account_id: a.id,
        subscriber: r.subscriber,
        category: r.category,
        service: r.service,
        destination: r.destination,
        answer_time: r.startTime,
        usage: String(r.usage),
        rated_usage: String(o.ratedUsage),
        cost_nano: Number(o.costNano),
        currency: a.currency,
        charged_nano: charged,
        breakdown: o.breakdown,
        file_id: fileId,
        line: r.line,
      });
    }),
  );
  c.timing.charge += performance.now() - t;
  t = performance.now();
  const stored = await storeRatedCdrs(deps.pool, deps.schema, rows);
  c.stored += stored.stored;
  c.duplicates += stored.duplicates;
  for (const r of rows) c.chargedNano += r.charged_nano;
  await storeRejects(deps.pool, deps.schema, fileId, rejects);
  for (const r of rejects) c.rejected[r.reason] = (c.rejected[r.reason] ?? 0) + 1;
  c.timing.store += performance.now() - t;
}

export async function importCdrFile(
  deps: ImportDeps,
  path: string,
  opts: {
    fileId?: string;
    mapping?: ColumnMapping;
    batchSize?: number;
    onProgress?: (c: ImportCounters) => void;
  } = {},
): Promise<ImportCounters> {
  const c: ImportCounters = {
    read: 0,
    stored: 0,
    duplicates: 0,
    rejected: {},
    chargedNano: 0,
    bytesRead: 0,
    timing: { read: 0, rate: 0, charge: 0, store: 0 },
  };
  const cache = new Map<string, Account | null>();
  let t = performance.now();
  for await (const batch of readCdrBatches(path, {
    ...(opts.mapping ? { mapping: opts.mapping } : {}),
    batchSize: opts.batchSize ?? 2000,
  })) {
    c.timing.read += performance.now() - t;
    c.read += batch.records.length + batch.rejects.length;
    await importBatch(deps, opts.fileId ?? path, batch.records, batch.rejects, cache, c);
    c.bytesRead = batch.bytesRead;
    opts.onProgress?.(c);
    t = performance.now();
  }
  return c;
}
