/** Writes a `TariffPlan` into each on-disk format, for round-trip and conformance tests. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TariffPlan } from '../../src/rating/model.js';
import { writeCgratesFolder } from '../../src/tariffs/cgrates-writer.js';
import { NATIVE_FILE, toNativeDocument } from '../../src/tariffs/native.js';

export interface WriteOptions {
  /** How to write rate quantities: as durations ("60s") for time, or bare base units. */
  unit: 'second' | 'unit';
}

export async function writeCgratesCsvFolder(
  plan: TariffPlan,
  dir: string,
  opts: WriteOptions,
): Promise<void> {
  await writeCgratesFolder(plan, dir, opts.unit);
}

export async function writeNativeFolder(plan: TariffPlan, dir: string, opts: WriteOptions): Promise<void> {
  await writeFile(join(dir, NATIVE_FILE), JSON.stringify(toNativeDocument(plan, opts.unit), null, 2) + '\n');
}
