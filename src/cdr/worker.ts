/**
 * A rating worker (piscina): loads the tariff once per folder and version, then prices batches of
 * CDR events with the pure rating core. Plain data in and out.
 */
import {
  compileTariff,
  describeResult,
  parseEvent,
  rateEvent,
  type CompiledTariff,
} from '../rating/index.js';
import { loadTariffFolder } from '../tariffs/load.js';

export interface RateTask {
  tariffDir: string;
  timezone?: string;
  /** Bumped on a reload: a new version makes the worker load the tariff again. */
  version: number;
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

let cached: { key: string; tariff: CompiledTariff } | undefined;

async function tariffFor(task: RateTask): Promise<CompiledTariff> {
  const key = `${task.tariffDir}\u0000${task.timezone ?? ''}\u0000${task.version}`;
  if (cached?.key !== key) {
    const loaded = await loadTariffFolder(task.tariffDir, task.timezone ? { timezone: task.timezone } : {});
    cached = { key, tariff: compileTariff(loaded.plan) };
  }
  return cached.tariff;
}

export default async function rateBatch(task: RateTask): Promise<RateOutcome[]> {
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
      breakdown: b,
    };
  });
}
