/**
 * Tax codes with dated rates (taxes) and tax profiles mapping fees, one-offs and usage keys
 * (`tor:category`, `data:*`) to codes (tax_profiles). A code's ranges never overlap: a new range is
 * checked against the others under a lock on the code (a PUT of a range already there with the same
 * rate is a retry and changes nothing; with another rate it is a 409).
 */
import type { Pool } from 'pg';
import { parseRate, RATE_SCALE, RateFormatError } from '../core/tax.js';
import { inTransaction } from './db.js';
import { PlansError } from './errors.js';

export interface TaxRate {
  code: string;
  rate: string;
  validFrom: string;
  validTo: string | null;
  category: string;
  legalText: string | null;
}

export interface TaxProfile {
  code: string;
  mapping: Record<string, string>;
  inclusive: boolean;
}

/** The rate as numeric(9,6) text, exactly (e.g. "0.200000"). */
function rateText(rate: string): string {
  let micros: bigint;
  try {
    micros = parseRate(rate);
  } catch (err) {
    if (!(err instanceof RateFormatError)) throw err;
    throw new PlansError('INVALID_REQUEST', err.message, {
      invalidParams: [{ param: '/rate', reason: err.message }],
    });
  }
  return `${micros / RATE_SCALE}.${(micros % RATE_SCALE).toString().padStart(6, '0')}`;
}

export async function putTax(pool: Pool, schema: string, tenant: string, t: TaxRate): Promise<TaxRate> {
  const rate = rateText(t.rate);
  if (t.validTo !== null && t.validTo <= t.validFrom)
    throw new PlansError('INVALID_REQUEST', 'validTo must be after validFrom', {
      invalidParams: [{ param: '/validTo', reason: 'must be after validFrom' }],
    });
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tax ${tenant} ${t.code}`]);
    const same = await c.query<{
      rate: string;
      valid_to: string | null;
      category: string;
      legal_text: string | null;
    }>(
      `SELECT rate::text, valid_to::text, category, legal_text FROM ${schema}.taxes
        WHERE tenant = $1 AND code = $2 AND valid_from = $3`,
      [tenant, t.code, t.validFrom],
    );
    const s = same.rows[0];
    if (s) {
      if (
        s.rate === rate &&
        s.valid_to === t.validTo &&
        s.category === t.category &&
        s.legal_text === t.legalText
      )
        return t;
      throw new PlansError('CONFLICT', `${t.code} from ${t.validFrom} already has another rate or range`);
    }
    const overlap = await c.query<{ valid_from: string }>(
      `SELECT valid_from::text FROM ${schema}.taxes WHERE tenant = $1 AND code = $2
          AND daterange(valid_from, valid_to) && daterange($3::date, $4::date) LIMIT 1`,
      [tenant, t.code, t.validFrom, t.validTo],
    );
    if (overlap.rows[0])
      throw new PlansError(
        'TAX_RATE_OVERLAP',
        `${t.code} already has a rate from ${overlap.rows[0].valid_from} in that range`,
      );
    await c.query(
      `INSERT INTO ${schema}.taxes (tenant, code, valid_from, rate, valid_to, category, legal_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [tenant, t.code, t.validFrom, rate, t.validTo, t.category, t.legalText],
    );
    return t;
  });
}

export async function putTaxProfile(
  pool: Pool,
  schema: string,
  tenant: string,
  p: TaxProfile,
): Promise<TaxProfile> {
  const codes = [...new Set(Object.values(p.mapping))];
  const known = await pool.query<{ code: string }>(
    `SELECT DISTINCT code FROM ${schema}.taxes WHERE tenant = $1 AND code = ANY($2::text[])`,
    [tenant, codes],
  );
  const found = new Set(known.rows.map((r) => r.code));
  const missing = Object.entries(p.mapping).filter(([, code]) => !found.has(code));
  if (missing.length > 0)
    throw new PlansError('UNKNOWN_TAX_CODE', `no tax code ${missing.map(([, c]) => c).join(', ')}`, {
      invalidParams: missing.map(([k, code]) => ({
        param: `/mapping/${k}`,
        reason: `names no tax code (${code})`,
      })),
    });
  await pool.query(
    `INSERT INTO ${schema}.tax_profiles (tenant, code, mapping, inclusive) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant, code) DO UPDATE SET mapping = $3, inclusive = $4`,
    [tenant, p.code, JSON.stringify(p.mapping), p.inclusive],
  );
  return p;
}

/** Whether a tax code has at least one rate (a plan's or a debit's taxCode must). */
export async function taxCodeExists(
  pool: Pool,
  schema: string,
  tenant: string,
  code: string,
): Promise<boolean> {
  const r = await pool.query(`SELECT 1 FROM ${schema}.taxes WHERE tenant = $1 AND code = $2 LIMIT 1`, [
    tenant,
    code,
  ]);
  return (r.rowCount ?? 0) > 0;
}
