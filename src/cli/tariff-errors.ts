/** Human-readable report of a refused tariff, every problem on its own line (stderr). */
import { describe, TariffError } from '../tariffs/errors.js';

export function describeTariffError(err: unknown, dir: string): string {
  if (err instanceof TariffError) {
    const lines = err.problems.map((p) => `  - ${describe(p)}`);
    return `error: tariff ${dir} refused (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`;
  }
  return `error: cannot load tariff ${dir}: ${err instanceof Error ? err.message : String(err)}\n`;
}
