/**
 * Command-line entry point: `npm run --silent cli -- <command> [options]`.
 * Commands write results to stdout and everything else (progress, warnings, errors) to stderr.
 */
import { parseArgs } from 'node:util';
import { rateCommand } from './rate-command.js';

const USAGE = `usage: cli <command> [options]

commands:
  rate --tariff DIR [--timezone ZONE]   rate JSON-line events from stdin, one JSON line per event on stdout
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'rate': {
      const { values } = parseArgs({
        args: rest,
        options: { tariff: { type: 'string' }, timezone: { type: 'string' } },
        strict: true,
      });
      if (!values.tariff) {
        process.stderr.write('error: rate needs --tariff DIR\n' + USAGE);
        return 2;
      }
      return rateCommand({ tariff: values.tariff, timezone: values.timezone }, process.stdin, process.stdout);
    }
    case undefined:
    case 'help':
    case '--help':
      process.stderr.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`error: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
