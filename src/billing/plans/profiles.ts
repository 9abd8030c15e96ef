/**
 * The seller (billing_entities) and each account's billing profile (billing_accounts). Every account
 * that billing touches has a profile: the first assignment, read or change creates the default one
 * (postpaid: invoices, prepaid: statements; the tenant's zone; cycle day = that local day, at most 28)
 * from the engine account, which must exist (another tenant's id is unknown).
 */
import type { Pool, PoolClient } from 'pg';
import type { Account } from '../../balances/model.js';
import { isValidZone, localDate } from '../core/periods.js';
import type { PlansDeps } from './db.js';
import { PlansError } from './errors.js';

export interface Buyer {
  legalName?: string;
  address?: string[];
  country?: string;
  taxId?: string;
}

export interface BillingProfile {
  accountId: string;
  accountType: Account['type'];
  currency: string;
  timezone: string;
  billCycleDay: number;
  invoiceMode: 'invoice' | 'statement' | 'none';
  taxProfile: string | null;
  paymentTermsDays: number;
  series: string | null;
  graceHours: number;
  autoFinalize: boolean;
  buyer: Buyer;
  exemptReason: string | null;
  reverseCharge: boolean;
  /**
   * When billing of the account starts: its first bill period opens here. Null until the profile is
   * stored (then the instant it is). Settable while no bill period exists (accounts migrated
   * mid-cycle from another system); after that 409 BILLING_STARTED.
   */
  billingSince: string | null;
}

export type ProfilePatch = Partial<Omit<BillingProfile, 'accountId' | 'accountType' | 'currency'>>;

export interface BillingEntity {
  legalName: string;
  address: string[];
  country: string | null;
  taxId: string | null;
  defaultTimezone: string;
  defaultTaxProfile: string | null;
  roundingMode: 'per_rate' | 'per_line';
}

type Db = Pool | PoolClient;

interface ProfileRow {
  account_id: string;
  account_type: Account['type'];
  currency: string;
  timezone: string;
  bill_cycle_day: number;
  invoice_mode: BillingProfile['invoiceMode'];
  tax_profile: string | null;
  payment_terms_days: number;
  series: string | null;
  grace_hours: number;
  auto_finalize: boolean;
  buyer: Buyer;
  exempt_reason: string | null;
  reverse_charge: boolean;
  created_at: Date;
}

const fromRow = (r: ProfileRow): BillingProfile => ({
  accountId: r.account_id,
  accountType: r.account_type,
  currency: r.currency,
  timezone: r.timezone,
  billCycleDay: r.bill_cycle_day,
  invoiceMode: r.invoice_mode,
  taxProfile: r.tax_profile,
  paymentTermsDays: r.payment_terms_days,
  series: r.series,
  graceHours: r.grace_hours,
  autoFinalize: r.auto_finalize,
  buyer: r.buyer,
  exemptReason: r.exempt_reason,
  reverseCharge: r.reverse_charge,
  billingSince: r.created_at.toISOString(),
});

export async function putEntity(
  pool: Pool,
  schema: string,
  tenant: string,
  e: BillingEntity,
): Promise<BillingEntity> {
  if (!isValidZone(e.defaultTimezone))
    throw new PlansError('INVALID_REQUEST', `${e.defaultTimezone} is not an IANA time zone`, {
      invalidParams: [{ param: '/defaultTimezone', reason: 'must be an IANA time zone, e.g. Europe/London' }],
    });
  if (e.defaultTaxProfile)
    await assertTaxProfile(pool, schema, tenant, e.defaultTaxProfile, '/defaultTaxProfile');
  await pool.query(
    `INSERT INTO ${schema}.billing_entities AS b
       (tenant, legal_name, address, country, tax_id, default_timezone, default_tax_profile, rounding_mode)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant) DO UPDATE SET legal_name = $2, address = $3, country = $4, tax_id = $5,
       default_timezone = $6, default_tax_profile = $7, rounding_mode = $8, updated_at = now()`,
    [
      tenant,
      e.legalName,
      JSON.stringify(e.address),
      e.country,
      e.taxId,
      e.defaultTimezone,
      e.defaultTaxProfile,
      e.roundingMode,
    ],
  );
  return e;
}

export async function entityZone(db: Db, schema: string, tenant: string): Promise<string> {
  const r = await db.query<{ z: string }>(
    `SELECT default_timezone AS z FROM ${schema}.billing_entities WHERE tenant = $1`,
    [tenant],
  );
  return r.rows[0]?.z ?? 'UTC';
}

async function assertTaxProfile(db: Db, schema: string, tenant: string, code: string, param: string) {
  const r = await db.query(`SELECT 1 FROM ${schema}.tax_profiles WHERE tenant = $1 AND code = $2`, [
    tenant,
    code,
  ]);
  if (r.rowCount === 0)
    throw new PlansError('TAX_PROFILE_NOT_FOUND', `no tax profile ${code}`, {
      invalidParams: [{ param, reason: 'names no tax profile' }],
    });
}

/** A series must exist when documents are set up (its table is the documents module's). */
async function assertSeries(db: Db, schema: string, tenant: string, code: string) {
  const t = await db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`${schema}.invoice_series`]);
  if (!t.rows[0]?.t) return;
  const r = await db.query(`SELECT 1 FROM ${schema}.invoice_series WHERE tenant = $1 AND code = $2`, [
    tenant,
    code,
  ]);
  if (r.rowCount === 0)
    throw new PlansError('SERIES_NOT_FOUND', `no invoice series ${code}`, {
      invalidParams: [{ param: '/series', reason: 'names no invoice series' }],
    });
}

async function engineAccount(deps: PlansDeps, tenant: string, accountId: string): Promise<Account> {
  const a = await deps.balances.accountInfo(tenant, accountId);
  if (!a) throw new PlansError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
  return a;
}

async function readProfile(db: Db, schema: string, tenant: string, accountId: string, lock = false) {
  const r = await db.query<ProfileRow>(
    `SELECT * FROM ${schema}.billing_accounts WHERE tenant = $1 AND account_id = $2${lock ? ' FOR UPDATE' : ''}`,
    [tenant, accountId],
  );
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** The default profile of an engine account (not stored). */
export async function defaultProfile(db: Db, deps: PlansDeps, a: Account): Promise<BillingProfile> {
  const zone = await entityZone(db, deps.schema, a.tenant);
  const day = Number(localDate(deps.now(), zone).slice(8, 10));
  return {
    accountId: a.id,
    accountType: a.type,
    currency: a.currency,
    timezone: zone,
    billCycleDay: Math.min(day, 28),
    invoiceMode: a.type === 'postpaid' ? 'invoice' : 'statement',
    taxProfile: null,
    paymentTermsDays: 14,
    series: null,
    graceHours: 24,
    autoFinalize: true,
    buyer: {},
    exemptReason: null,
    reverseCharge: false,
    billingSince: null,
  };
}

async function writeProfile(db: Db, schema: string, tenant: string, p: BillingProfile): Promise<void> {
  await db.query(
    `INSERT INTO ${schema}.billing_accounts (tenant, account_id, account_type, currency, timezone, bill_cycle_day,
       invoice_mode, tax_profile, payment_terms_days, series, grace_hours, auto_finalize, buyer, exempt_reason,
       reverse_charge, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, coalesce($16::timestamptz, now()))
     ON CONFLICT (tenant, account_id) DO UPDATE SET timezone = $5, bill_cycle_day = $6, invoice_mode = $7,
       tax_profile = $8, payment_terms_days = $9, series = $10, grace_hours = $11, auto_finalize = $12,
       buyer = $13, exempt_reason = $14, reverse_charge = $15,
       created_at = coalesce($16::timestamptz, ${schema}.billing_accounts.created_at), updated_at = now()`,
    [
      tenant,
      p.accountId,
      p.accountType,
      p.currency,
      p.timezone,
      p.billCycleDay,
      p.invoiceMode,
      p.taxProfile,
      p.paymentTermsDays,
      p.series,
      p.graceHours,
      p.autoFinalize,
      JSON.stringify(p.buyer),
      p.exemptReason,
      p.reverseCharge,
      p.billingSince,
    ],
  );
}

/** The account's profile, created with the defaults if it has none (inside the caller's transaction). */
export async function ensureProfile(c: PoolClient, deps: PlansDeps, tenant: string, accountId: string) {
  const found = await readProfile(c, deps.schema, tenant, accountId);
  if (found) return found;
  const p = await defaultProfile(c, deps, await engineAccount(deps, tenant, accountId));
  await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`profile ${tenant} ${accountId}`]);
  const again = await readProfile(c, deps.schema, tenant, accountId);
  if (again) return again;
  await writeProfile(c, deps.schema, tenant, p);
  return p;
}

/** The profile (stored, or the default one the account would get). 404 for an unknown account. */
export async function getProfile(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
): Promise<BillingProfile> {
  const a = await engineAccount(deps, tenant, accountId);
  return (await readProfile(deps.pool, deps.schema, tenant, accountId)) ?? defaultProfile(deps.pool, deps, a);
}

/** Creates or changes the profile; fields left out keep their value (or the default). */
export async function putProfile(
  deps: PlansDeps,
  tenant: string,
  accountId: string,
  patch: ProfilePatch,
): Promise<BillingProfile> {
  if (patch.timezone !== undefined && !isValidZone(patch.timezone))
    throw new PlansError('INVALID_REQUEST', `${patch.timezone} is not an IANA time zone`, {
      invalidParams: [{ param: '/timezone', reason: 'must be an IANA time zone, e.g. Europe/London' }],
    });
  const a = await engineAccount(deps, tenant, accountId);
  const { pool, schema } = deps;
  if (patch.taxProfile) await assertTaxProfile(pool, schema, tenant, patch.taxProfile, '/taxProfile');
  if (patch.series) await assertSeries(pool, schema, tenant, patch.series);
  const current =
    (await readProfile(pool, schema, tenant, accountId)) ?? (await defaultProfile(pool, deps, a));
  const since = patch.billingSince == null ? undefined : sinceOf(patch.billingSince, deps.now());
  if (since !== undefined && since !== current.billingSince)
    await assertNotBilled(pool, schema, tenant, accountId);
  const next: BillingProfile = { ...current, ...patch, billingSince: since ?? current.billingSince };
  await writeProfile(pool, schema, tenant, next);
  return (await readProfile(pool, schema, tenant, accountId)) ?? next;
}

/** A billing start: an instant, not in the future (billing cannot start before it is known). */
function sinceOf(text: string, nowMs: number): string {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || ms > nowMs)
    throw new PlansError('INVALID_REQUEST', `billingSince ${text} is not an instant up to now`, {
      invalidParams: [{ param: '/billingSince', reason: 'must be an ISO 8601 instant, not in the future' }],
    });
  return new Date(ms).toISOString();
}

/** The first period is fixed once a run has opened one: moving its start would re-bill or skip time. */
async function assertNotBilled(db: Db, schema: string, tenant: string, accountId: string) {
  const t = await db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`${schema}.bill_periods`]);
  if (!t.rows[0]?.t) return;
  const r = await db.query(
    `SELECT 1 FROM ${schema}.bill_periods WHERE tenant = $1 AND account_id = $2 LIMIT 1`,
    [tenant, accountId],
  );
  if (r.rowCount !== 0)
    throw new PlansError('BILLING_STARTED', `billing of ${accountId} has started: its first period is fixed`);
}
