/**
 * Loads a tariff folder from disk, whichever format it is in (native `tariff.json`, or a CGRateS
 * CSV folder), validates it whole, and either returns the plan or throws a `TariffError` listing
 * every problem.
 */
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TariffPlan } from '../rating/model.js';
import { isCgratesFolder, readCgratesFolder } from './cgrates-csv.js';
import { TariffError } from './errors.js';
import { NATIVE_FILE, readNativeFolder } from './native.js';
import { readNetworkFile } from './network-file.js';
import { jsonPaths, validateTariff } from './validate.js';

export type TariffFormat = 'native' | 'cgrates-csv';

export interface LoadedTariff {
  plan: TariffPlan;
  format: TariffFormat;
  warnings: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function detectFormat(dir: string): Promise<TariffFormat | undefined> {
  if (await exists(join(dir, NATIVE_FILE))) return 'native';
  if (await isCgratesFolder(dir)) return 'cgrates-csv';
  return undefined;
}

/**
 * @param opts.timezone the zone timings are read in, for CGRateS folders (which do not say);
 *   a native tariff names its own zone.
 */
export async function loadTariffFolder(dir: string, opts: { timezone?: string } = {}): Promise<LoadedTariff> {
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    throw new TariffError([{ file: dir, message: 'not a directory' }]);
  }
  const { network, problems } = await readNetworkFile(dir);
  let loaded: LoadedTariff;
  try {
    loaded = await loadPlan(dir, opts);
  } catch (e) {
    // Every problem of the folder at once: the plan's and network.json's.
    if (e instanceof TariffError) throw new TariffError([...e.problems, ...problems]);
    throw e;
  }
  if (problems.length) throw new TariffError(problems);
  if (network) loaded.plan.network = network;
  return loaded;
}

async function loadPlan(dir: string, opts: { timezone?: string }): Promise<LoadedTariff> {
  const format = await detectFormat(dir);
  if (format === 'native') {
    const { plan, problems } = await readNativeFolder(dir);
    const all = [...problems, ...validateTariff(plan, jsonPaths(NATIVE_FILE))];
    if (all.length) throw new TariffError(all);
    return { plan, format, warnings: [] };
  }
  if (format === 'cgrates-csv') {
    const { plan, problems, warnings, locate } = await readCgratesFolder(dir, opts);
    const all = [...problems, ...validateTariff(plan, locate)];
    if (all.length) throw new TariffError(all);
    return { plan, format, warnings };
  }
  throw new TariffError([
    {
      file: dir,
      message: `neither ${NATIVE_FILE} nor a CGRateS tariff plan (Rates.csv, RatingPlans.csv) found`,
    },
  ]);
}
