/**
 * What the run reads of billing profiles (billing_accounts, billing_entities, tax profiles and rates:
 * the plans' tables) and how it parks an account. Read per chunk of accounts, in account_id order.
 */
import type { PoolClient } from 'pg';
import type { DatedRate } from '../core/tax.js';
import { checkSchema } from './schema.js';

export interface BillingAccount {
  accountId: string;
  accountType: string;
  currency: string;
  timezone: string;
  billCycleDay: number;
  invoiceMode: 'invoice' | 'statement' | 'none';
  taxProfile: string | null;
  paymentTermsDays: number;
  series: string | null;
  graceHours: number;
  autoFinalize: boolean;
  buyer: Record<string, unknown>;
  exempt: boolean;
  /** The exempt or reverse-charge buyer's legal mention for its invoices (billing.md E.1); null otherwise. */
  legalText: string | null;
  parkedCode: string | null;
  createdAt: Date;
}

type Db = Pick<PoolClient, 'query'>;

/** The accounts a run bills: not parked, and with documents (invoice_mode none gets none). */
export const billable = (chunk: BillingAccount[]) =>
  chunk.filter((a) => a.parkedCode === null && a.invoiceMode !== 'none');

/** `billable` as SQL, over the billing_accounts row aliased `a` (the run's checks that skip a walk). */
export const BILLABLE_SQL = `a.parked_code IS NULL AND a.invoice_mode <> 'none'`;

/** The chunk of accounts after `after` (in account_id order), or the listed ones; parked ones included. */
export async function accountsChunk(
  db: Db,
  schema: string,
  tenant: string,
  after: string,
  limit: number,
  only?: string[],
): Promise<BillingAccount[]> {
  const r = await db.query<
    Omit<BillingAccount, 'legalText'> & { exemptReason: string | null; reverseCharge: boolean }
  >(
    `SELECT account_id AS "accountId", account_type AS "accountType", trim(currency) AS currency, timezone,
            bill_cycle_day AS "billCycleDay", invoice_mode AS "invoiceMode", tax_profile AS "taxProfile",
            payment_terms_days AS "paymentTermsDays", series, grace_hours AS "graceHours",
            auto_finalize AS "autoFinalize", buyer, (exempt_reason IS NOT NULL OR reverse_charge) AS exempt,
            exempt_reason AS "exemptReason", reverse_charge AS "reverseCharge",
            parked_code AS "parkedCode", created_at AS "createdAt"
       FROM ${checkSchema(schema)}.billing_accounts
      WHERE tenant = $1 AND account_id > $2 AND ($4::text[] IS NULL OR account_id = ANY($4::text[]))
      ORDER BY account_id LIMIT $3`,
    [tenant, after, limit, only ?? null],
  );
  return r.rows.map(({ exemptReason, reverseCharge, ...a }) =>
    Object.assign(a, { legalText: legalTextOf(exemptReason, reverseCharge) }),
  );
}

/** The reverse-charge mention (Council Directive 2006/112/EC, art. 196 and 226(11a)). */
export const REVERSE_CHARGE_TEXT =
  'Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)';

/** An account's legal mention: its exemption reason, the reverse-charge text, or both. */
export function legalTextOf(exemptReason: string | null, reverseCharge: boolean): string | null {
  const texts = [exemptReason?.trim() || null, reverseCharge ? REVERSE_CHARGE_TEXT : null].filter(
    (t): t is string => t !== null,
  );
  return texts.length > 0 ? texts.join('; ') : null;
}

export interface Seller {
  party: Record<string, unknown>;
  roundingMode: 'per_rate' | 'per_line';
}

export async function sellerOf(db: Db, schema: string, tenant: string): Promise<Seller> {
  const r = await db.query<{
    legal_name: string;
    address: unknown;
    country: string | null;
    tax_id: string | null;
    rounding_mode: string;
  }>(
    `SELECT legal_name, address, country, tax_id, rounding_mode FROM ${checkSchema(schema)}.billing_entities WHERE tenant = $1`,
    [tenant],
  );
  const e = r.rows[0];
  if (!e) return { party: { legalName: tenant }, roundingMode: 'per_rate' };
  return {
    party: { legalName: e.legal_name, address: e.address, country: e.country, taxId: e.tax_id },
    roundingMode: e.rounding_mode === 'per_line' ? 'per_line' : 'per_rate',
  };
}

export interface TaxTables {
  profiles: Map<string, Record<string, string>>;
  rates: DatedRate[];
}

export async function taxTablesOf(db: Db, schema: string, tenant: string): Promise<TaxTables> {
  const s = checkSchema(schema);
  const p = await db.query<{ code: string; mapping: Record<string, string> }>(
    `SELECT code, mapping FROM ${s}.tax_profiles WHERE tenant = $1`,
    [tenant],
  );
  // rate numeric(9,6) × 10^6 as an integer: exact.
  const t = await db.query<{
    code: string;
    valid_from: string;
    valid_to: string | null;
    micros: string;
    legal_text: string | null;
  }>(
    `SELECT code, valid_from::text, valid_to::text, (rate * 1000000)::bigint::text AS micros, legal_text
       FROM ${s}.taxes WHERE tenant = $1`,
    [tenant],
  );
  return {
    profiles: new Map(p.rows.map((x) => [x.code, x.mapping])),
    rates: t.rows.map((x) => ({
      code: x.code,
      validFrom: x.valid_from,
      ...(x.valid_to ? { validTo: x.valid_to } : {}),
      rateMicros: BigInt(x.micros),
      ...(x.legal_text ? { legalText: x.legal_text } : {}),
    })),
  };
}

/** Parks an account (later runs skip it until unparked); the run goes on. */
export async function park(
  db: Db,
  schema: string,
  tenant: string,
  accountId: string,
  code: string,
  message: string,
) {
  await db.query(
    `UPDATE ${checkSchema(schema)}.billing_accounts SET parked_code = $3, parked_message = $4, parked_at = now()
      WHERE tenant = $1 AND account_id = $2`,
    [tenant, accountId, code, message],
  );
}

/** Unparks an account; false if it is unknown. */
export async function unpark(db: Db, schema: string, tenant: string, accountId: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE ${checkSchema(schema)}.billing_accounts SET parked_code = NULL, parked_message = NULL, parked_at = NULL
      WHERE tenant = $1 AND account_id = $2`,
    [tenant, accountId],
  );
  return (r.rowCount ?? 0) > 0;
}
