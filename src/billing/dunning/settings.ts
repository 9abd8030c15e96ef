/** Each tenant's dunning settings in PostgreSQL (the defaults when it set none). */
import type { Pool } from 'pg';
import { DEFAULT_SETTINGS, type DunningSettings } from './rules.js';

export async function readSettings(pool: Pool, schema: string, tenant: string): Promise<DunningSettings> {
  const r = await pool.query<{ reminder_days: number[]; suspend_after_days: number | null }>(
    `SELECT reminder_days, suspend_after_days FROM ${schema}.dunning_settings WHERE tenant = $1`,
    [tenant],
  );
  const x = r.rows[0];
  return x ? { reminderDays: x.reminder_days, suspendAfterDays: x.suspend_after_days } : DEFAULT_SETTINGS;
}

export async function saveSettings(
  pool: Pool,
  schema: string,
  tenant: string,
  s: DunningSettings,
): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.dunning_settings (tenant, reminder_days, suspend_after_days) VALUES ($1, $2, $3)
     ON CONFLICT (tenant) DO UPDATE SET reminder_days = $2, suspend_after_days = $3, updated_at = now()`,
    [tenant, s.reminderDays, s.suspendAfterDays],
  );
}
