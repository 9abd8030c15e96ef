/**
 * `cli rate --tariff DIR [--timezone ZONE]`: JSON lines in on stdin, one JSON line out per event
 * on stdout, in order, and nothing else on stdout (diagnostics go to stderr).
 */
import { createInterface } from 'node:readline';
import { compileTariff } from '../rating/index.js';
import { loadTariffFolder } from '../tariffs/load.js';
import { rateLine } from './rate-lines.js';
import { describeTariffError } from './tariff-errors.js';

export interface RateOptions {
  tariff: string;
  timezone?: string;
}

export async function rateCommand(
  opts: RateOptions,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<number> {
  let loaded;
  try {
    loaded = await loadTariffFolder(opts.tariff, opts.timezone ? { timezone: opts.timezone } : {});
  } catch (err) {
    process.stderr.write(describeTariffError(err, opts.tariff));
    return 2;
  }
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const tariff = compileTariff(loaded.plan);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let buffer = '';
  for await (const line of lines) {
    if (line.trim() === '') continue;
    buffer += JSON.stringify(rateLine(tariff, line)) + '\n';
    if (buffer.length > 65536) {
      if (!output.write(buffer)) await new Promise((resolve) => output.once('drain', resolve));
      buffer = '';
    }
  }
  if (buffer) output.write(buffer);
  return 0;
}
