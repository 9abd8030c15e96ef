/**
 * The tariff a running engine prices with. A reload loads and compiles the new plan completely
 * before swapping it in; if anything is wrong the engine keeps its last good tariff and the
 * caller gets every problem.
 */
import { compileTariff, type CompiledTariff } from '../rating/index.js';
import { TariffError, type Problem } from './errors.js';
import { loadTariffFolder, type TariffFormat } from './load.js';

export interface TariffInfo {
  dir: string;
  format: TariffFormat;
  loadedAt: string;
  version: number;
  warnings: string[];
  counts: CompiledTariff['counts'];
}

export interface ActiveTariff {
  current(): CompiledTariff;
  info(): TariffInfo;
  /** Loads `dir` (default: the last folder) and swaps it in; on failure nothing changes. */
  reload(dir?: string): Promise<LoadOutcome>;
  /** Loads and compiles `dir` as a reload does, without swapping it in (a dry run). */
  check(dir: string): Promise<LoadOutcome>;
}

export type LoadOutcome = { ok: true; info: TariffInfo } | { ok: false; problems: Problem[] };

async function load(dir: string, timezone: string | undefined, version: number, nowIso: string) {
  const loaded = await loadTariffFolder(dir, timezone ? { timezone } : {});
  const tariff = compileTariff(loaded.plan);
  const info: TariffInfo = {
    dir,
    format: loaded.format,
    loadedAt: nowIso,
    version,
    warnings: loaded.warnings,
    counts: tariff.counts,
  };
  return { tariff, info };
}

/** Loads the first tariff (throws `TariffError` if it is bad: an engine does not start without one). */
export async function openActiveTariff(
  dir: string,
  opts: { timezone?: string; now?: () => Date } = {},
): Promise<ActiveTariff> {
  const now = opts.now ?? (() => new Date());
  let state = await load(dir, opts.timezone, 1, now().toISOString());
  /** The next version loaded whole, or every problem (nothing is swapped here). */
  async function attempt(next: string) {
    try {
      return await load(next, opts.timezone, state.info.version + 1, now().toISOString());
    } catch (err) {
      if (err instanceof TariffError) return { problems: err.problems };
      return { problems: [{ file: next, message: err instanceof Error ? err.message : String(err) }] };
    }
  }
  return {
    current: () => state.tariff,
    info: () => state.info,
    async reload(next = state.info.dir) {
      const loaded = await attempt(next);
      if ('problems' in loaded) return { ok: false, problems: loaded.problems };
      state = loaded;
      return { ok: true, info: state.info };
    },
    async check(next) {
      const loaded = await attempt(next);
      return 'problems' in loaded
        ? { ok: false, problems: loaded.problems }
        : { ok: true, info: loaded.info };
    },
  };
}
