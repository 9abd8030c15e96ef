/**
 * `cli plans load FILE`: a catalog file (tariffs/billing/catalog.json is the sample) loaded through
 * the plans module's own writes, in the order they depend on each other: the seller (entity), tax
 * rates, tax profiles, coupons, plans. Each write is idempotent (a plan whose body is unchanged keeps
 * its version; the same tax range and coupon again change nothing), so loading the same file twice
 * changes nothing, and after a refusal the fixed file is loaded again from the start.
 */
import { readFileSync } from 'node:fs';
import { putPlan } from '../billing/plans/catalog.js';
import { putCoupon, type CouponBody } from '../billing/plans/coupons.js';
import { PlansError } from '../billing/plans/errors.js';
import { putEntity, type BillingEntity } from '../billing/plans/profiles.js';
import { putTax, putTaxProfile } from '../billing/plans/taxes.js';
import { ensureEngineSchema } from '../storage/schema.js';
import { withHistory } from './engine.js';

interface CatalogFile {
  entity?: Partial<BillingEntity> & { legalName: string };
  taxes?: {
    code: string;
    rate: string;
    validFrom: string;
    validTo?: string;
    category?: string;
    legalText?: string;
  }[];
  taxProfiles?: { code: string; mapping: Record<string, string>; inclusive?: boolean }[];
  coupons?: (CouponBody & { code: string })[];
  plans?: (Record<string, unknown> & { code: string })[];
}

const KEYS = ['entity', 'taxes', 'taxProfiles', 'coupons', 'plans', '$comment'];

/** The file's shape, or a message naming what is wrong (the writes check the rest). */
export function parseCatalog(text: string): CatalogFile | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return 'the file must hold one JSON object';
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0)
    return `unknown key(s) ${unknown.join(', ')} (known: ${KEYS.slice(0, 5).join(', ')})`;
  for (const k of ['taxes', 'taxProfiles', 'coupons', 'plans']) {
    const list = o[k];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `${k} must be a list`;
    const bad = list.findIndex(
      (x) => typeof x !== 'object' || x === null || typeof (x as { code?: unknown }).code !== 'string',
    );
    if (bad >= 0) return `${k}[${bad}] must be an object with a code`;
  }
  return o as CatalogFile;
}

const defaults = (): BillingEntity => ({
  legalName: '',
  address: [],
  country: null,
  taxId: null,
  defaultTimezone: 'UTC',
  defaultTaxProfile: null,
  roundingMode: 'per_rate',
});

interface Loaded {
  taxes: number;
  taxProfiles: number;
  coupons: number;
  plansCreated: number;
  plansUnchanged: number;
}

async function load(
  pool: Parameters<typeof putPlan>[0],
  schema: string,
  tenant: string,
  c: CatalogFile,
  done: Loaded,
) {
  // The seller first without its default tax profile, which may be among the profiles loaded below.
  const entity = c.entity ? ({ ...defaults(), ...c.entity } as BillingEntity) : undefined;
  if (entity) await putEntity(pool, schema, tenant, { ...entity, defaultTaxProfile: null });
  for (const t of c.taxes ?? []) {
    await putTax(pool, schema, tenant, {
      code: t.code,
      rate: t.rate,
      validFrom: t.validFrom,
      validTo: t.validTo ?? null,
      category: t.category ?? 'standard',
      legalText: t.legalText ?? null,
    });
    done.taxes++;
  }
  for (const p of c.taxProfiles ?? []) {
    await putTaxProfile(pool, schema, tenant, {
      code: p.code,
      mapping: p.mapping,
      inclusive: p.inclusive ?? false,
    });
    done.taxProfiles++;
  }
  if (entity?.defaultTaxProfile) await putEntity(pool, schema, tenant, entity);
  for (const { code, ...body } of c.coupons ?? []) {
    await putCoupon(pool, schema, tenant, code, body as CouponBody);
    done.coupons++;
  }
  for (const { code, ...body } of c.plans ?? []) {
    const r = await putPlan(pool, schema, tenant, code, body);
    if (r.created) done.plansCreated++;
    else done.plansUnchanged++;
  }
}

export async function plansLoadCommand(file: string, tenant: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  const catalog = parseCatalog(text);
  if (typeof catalog === 'string') {
    process.stderr.write(`${file}: ${catalog}\n`);
    return 1;
  }
  return withHistory(async (pool, schema) => {
    await ensureEngineSchema(pool, schema);
    const done: Loaded = { taxes: 0, taxProfiles: 0, coupons: 0, plansCreated: 0, plansUnchanged: 0 };
    try {
      await load(pool, schema, tenant, catalog, done);
    } catch (err) {
      if (!(err instanceof PlansError)) throw err;
      const refusal = { status: 'refused', code: err.code, message: err.message, ...err.extra, loaded: done };
      process.stdout.write(`${JSON.stringify(refusal)}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify({ status: 'done', tenant, ...done })}\n`);
    return 0;
  });
}
