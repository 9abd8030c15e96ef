/**
 * The demo (`npm run demo`): loads the sample tariff, prices the sample events and shows why each
 * costs what it does. Everything it does is what `cli rate` does, printed for people.
 */
import { readFile } from 'node:fs/promises';
import { rateLine } from './cli/rate-lines.js';
import { describeTariffError } from './cli/tariff-errors.js';
import { openActiveTariff } from './tariffs/active.js';

const DIR = process.argv[2] ?? 'tariffs/sample';

async function main(): Promise<void> {
  const active = await openActiveTariff(DIR);
  const info = active.info();
  console.log(
    `Tariff ${info.dir} (${info.format}): ${info.counts.prefixes} prefixes, ${info.counts.rates} rates, ${info.counts.ratingPlans} plans\n`,
  );
  const lines = (await readFile(`${DIR}/events.jsonl`, 'utf8')).split('\n').filter((l) => l.trim());
  for (const line of lines) {
    const out = rateLine(active.current(), line);
    if ('error' in out) {
      console.log(
        `${String(out.id).padEnd(22)} ${'refused'.padStart(9)}  ${out.error.code}: ${out.error.message}`,
      );
      continue;
    }
    const how = out.spans
      .map((s) => `${s.usage}${out.tor === 'voice' ? 's' : ''} ${s.rate}@${s.timing}`)
      .join(' + ');
    const extras = [
      out.connectFee !== '0' ? `fee ${out.connectFee}` : '',
      out.maxCost?.applied ? `capped at ${out.maxCost.amount}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    console.log(
      `${String(out.id).padEnd(22)} ${out.cost.padStart(9)}  ${out.destination} (${out.matchedPrefix}) via ${out.ratingPlan}: ${how}${extras ? `; ${extras}` : ''}`,
    );
  }
  console.log(
    '\nThe same events as JSON lines: npm run --silent cli -- rate --tariff tariffs/sample < tariffs/sample/events.jsonl',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(describeTariffError(err, DIR));
  process.exitCode = 1;
});
