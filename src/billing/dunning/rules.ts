/**
 * Dunning rules, pure: which reminder offsets an overdue invoice has reached, which one to send, and
 * the settings from their API body. A job that was away for days sends one reminder (the latest
 * offset reached) and records the earlier ones as passed, so a customer never gets three at once.
 */

export interface DunningSettings {
  /** Days after the due date, ascending, each sent once. */
  reminderDays: number[];
  /** Postpaid accounts are suspended this many days after a due date still unpaid; null: never. */
  suspendAfterDays: number | null;
}

/** A tenant that set nothing is reminded at 1, 7 and 14 days and never suspended. */
export const DEFAULT_SETTINGS: DunningSettings = { reminderDays: [1, 7, 14], suspendAfterDays: null };

export const MAX_DAYS = 365;

/** Offsets reached and not yet recorded, and the one to send (the latest), if any. */
export function remindersDue(
  daysOverdue: number,
  offsets: readonly number[],
  recorded: readonly number[],
): { record: number[]; send: number | null } {
  const record = offsets.filter((o) => o <= daysOverdue && !recorded.includes(o));
  return { record, send: record.length > 0 ? Math.max(...record) : null };
}

export class SettingsError extends Error {
  constructor(
    readonly param: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Checked, sorted settings; throws SettingsError naming the field. */
export function settingsFromBody(b: {
  reminderDays: number[];
  suspendAfterDays?: number | null;
}): DunningSettings {
  const days = [...b.reminderDays].sort((x, y) => x - y);
  days.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1 || d > MAX_DAYS)
      throw new SettingsError(`/reminderDays`, `each must be an integer from 1 to ${MAX_DAYS}`);
    if (i > 0 && days[i - 1] === d) throw new SettingsError('/reminderDays', `${d} is given twice`);
  });
  const s = b.suspendAfterDays ?? null;
  if (s !== null && (!Number.isInteger(s) || s < 1 || s > MAX_DAYS))
    throw new SettingsError('/suspendAfterDays', `must be an integer from 1 to ${MAX_DAYS}, or null`);
  return { reminderDays: days, suspendAfterDays: s };
}
