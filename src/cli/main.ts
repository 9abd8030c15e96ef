/**
 * Command-line entry point: `npm run --silent cli -- <command> [options]`.
 * Commands write results to stdout and everything else (progress, warnings, errors) to stderr.
 */
import { parseArgs } from 'node:util';
import { generateCdrFile } from '../cdr/generate.js';
import { cdrImportCommand, cdrRerateCommand } from './cdr-commands.js';
import { rateCommand } from './rate-command.js';

const USAGE = `usage: cli <command> [options]

commands:
  rate --tariff DIR [--timezone ZONE]   rate JSON-line events from stdin, one JSON line per event on stdout
  cdr import FILE... [--mapping FILE]   rate, charge and store CDR files (Redis and PostgreSQL as npm start finds them)
  cdr rerate --from T --to T [--account ID]
                                        price stored CDRs again with the current tariff, move the differences
  cdr generate --out FILE --lines N [--seed S] [--gzip]
                                        write a synthetic CDR file (cdr-samples/README.md)
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
    case 'cdr': {
      const [sub, ...args] = rest;
      if (sub === 'import') {
        const { values, positionals } = parseArgs({
          args,
          options: { mapping: { type: 'string' } },
          allowPositionals: true,
          strict: true,
        });
        if (positionals.length === 0) {
          process.stderr.write('error: cdr import needs at least one FILE\n');
          return 2;
        }
        return cdrImportCommand(positionals, values.mapping ? { mapping: values.mapping } : {});
      }
      if (sub === 'rerate') {
        const { values } = parseArgs({
          args,
          options: { from: { type: 'string' }, to: { type: 'string' }, account: { type: 'string' } },
          strict: true,
        });
        if (
          !values.from ||
          !values.to ||
          Number.isNaN(Date.parse(values.from)) ||
          Number.isNaN(Date.parse(values.to))
        ) {
          process.stderr.write('error: cdr rerate needs --from and --to (ISO-8601 times)\n');
          return 2;
        }
        return cdrRerateCommand({
          from: values.from,
          to: values.to,
          ...(values.account ? { account: values.account } : {}),
        });
      }
      if (sub !== 'generate') {
        process.stderr.write(`error: unknown cdr command "${sub ?? ''}"\n${USAGE}`);
        return 2;
      }
      const { values } = parseArgs({
        args,
        options: {
          out: { type: 'string' },
          lines: { type: 'string' },
          seed: { type: 'string' },
          gzip: { type: 'boolean' },
        },
        strict: true,
      });
      const lines = Number(values.lines);
      if (!values.out || !Number.isInteger(lines) || lines < 0) {
        process.stderr.write('error: cdr generate needs --out FILE and --lines N\n');
        return 2;
      }
      const started = Date.now();
      await generateCdrFile(values.out, {
        lines,
        seed: Number(values.seed ?? 1),
        gzip: values.gzip ?? false,
      });
      process.stderr.write(
        `wrote ${lines.toLocaleString('en')} CDRs to ${values.out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      return 0;
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
