/** Human-readable report of a refused tariff, every problem on its own line (stderr). */
import { TariffError } from '../tariffs/errors.js';

export function describeTariffError(err: unknown, dir: string): string {
  if (err instanceof TariffError) {
    const lines = err.problems.map((p) => {
      const where = [
        p.file,
        p.line !== undefined ? `line ${p.line}` : '',
        p.path ?? '',
        p.field ? `field ${p.field}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `  - ${where}: ${p.message}`;
    });
    return `error: tariff ${dir} refused (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`;
  }
  return `error: cannot load tariff ${dir}: ${err instanceof Error ? err.message : String(err)}\n`;
}
