/** An account event as webhooks send it and the pull API answers it: one shape for both. */
export interface EventRow {
  id: string;
  type: string;
  account_id: string | null;
  sequence: string | null;
  occurred_at: Date;
  payload: unknown;
}

export interface EventView {
  id: string;
  type: string;
  timestamp: string;
  accountId: string | null;
  sequence: number | null;
  data: unknown;
}

export const presentEvent = (r: EventRow): EventView => ({
  id: r.id,
  type: r.type,
  timestamp: r.occurred_at.toISOString(),
  accountId: r.account_id,
  sequence: r.sequence === null ? null : Number(r.sequence),
  data: r.payload,
});
