/** What the CDR commands say about an import: the progress status and the summary of a file. */
import type { ImportCounters } from '../cdr/pipeline.js';
import { nanoToDecimal } from '../rating/money.js';

const n = (x: number) => x.toLocaleString('en');

export function rejectedTotal(c: Pick<ImportCounters, 'rejected'>): number {
  return Object.values(c.rejected).reduce((a, b) => a + b, 0);
}

/** Money by currency: "12.5 GBP, 3.2 EUR" ("nothing" when empty). */
export function chargedText(byCurrency: Record<string, number>): string {
  const parts = Object.entries(byCurrency)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, nano]) => `${nanoToDecimal(nano)} ${currency}`);
  return parts.join(', ') || 'nothing';
}

/** One line of progress: how much is done and at what pace. */
export function countsText(c: ImportCounters, seconds: number): string {
  return (
    `${n(c.read)} read, ${n(c.stored)} stored, ${n(c.duplicates)} duplicates, ${n(rejectedTotal(c))} rejected` +
    ` (${n(Math.round(c.read / Math.max(seconds, 0.001)))}/s)`
  );
}

/** A path as it can be pasted into a shell. */
function shellWord(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

export function importSummary(file: string, c: ImportCounters, seconds: number): string {
  const reasons = Object.entries(c.rejected)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
  const lines = [
    `${file}: ${n(c.read)} read in ${seconds.toFixed(1)} s (${n(Math.round(c.read / Math.max(seconds, 0.001)))}/s)` +
      (c.resumedAfterLine ? `, going on after line ${n(c.resumedAfterLine)} (stored by an earlier run)` : ''),
    `  stored ${n(c.stored)}, duplicates ${n(c.duplicates)}, rejected ${n(rejectedTotal(c))}` +
      (reasons ? `: ${reasons}` : ''),
    `  charged ${chargedText(c.chargedNanoByCurrency)}`,
  ];
  if (reasons) lines.push(`  the rejects, line by line: cli cdr rejects --file ${shellWord(file)}`);
  if (c.stoppedAfterLine !== undefined)
    lines.push(
      `  stopped after line ${n(c.stoppedAfterLine)}: run the same command again to go on from there`,
    );
  return lines.join('\n');
}
