/**
 * Command-line entry point: `npm run --silent cli -- <command> [options]`.
 * Commands write results to stdout and everything else (progress, warnings, errors) to stderr;
 * `--help` on any command prints its usage on stdout.
 * Exit codes: 0 done, 1 an unexpected error, 2 a bad command line, 3 stopped before the end (Ctrl-C,
 * SIGTERM, Redis or PostgreSQL not answering): run the same command again to go on.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, UsageError, type Command, type Values } from './commands.js';

/** The commands whose names start with `group` ('' for all, 'cdr ' for the CDR ones). */
function overview(group: string): string {
  return (
    'usage: cli <command> [options]   (cli <command> --help: its options)\n\ncommands:\n' +
    COMMANDS.filter((c) => c.name.startsWith(group))
      .map((c) => `  ${c.synopsis}\n`)
      .join('')
  );
}

const asksHelp = (args: string[]) => args.some((a) => a === '--help' || a === '-h');

/** The command named by the first words of argv, and the arguments after its name. */
function find(argv: string[]): { command: Command; args: string[] } | null {
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command, args: argv.slice(words.length) };
  }
  return null;
}

async function run(command: Command, args: string[]): Promise<number> {
  const usage = `usage: cli ${command.synopsis}\n\n${command.help}\n`;
  if (asksHelp(args)) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: command.options,
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    // No option is declared `multiple`, so none is a list.
    return await command.run(values as Values, positionals);
  } catch (err) {
    // parseArgs says what is wrong with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const parseError = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ?? false;
    if (!(err instanceof UsageError) && !parseError) throw err;
    process.stderr.write(`error: ${(err as Error).message}\n${usage}`);
    return 2;
  }
}

async function main(argv: string[]): Promise<number> {
  const found = find(argv);
  if (found) return run(found.command, found.args);
  // `cli --help`, `cli help`, `cli cdr --help`, `cli help cdr`, `cli cdr`…
  const words = argv.filter((a) => a !== '--help' && a !== '-h' && a !== 'help');
  const group = words.length === 0 ? '' : words.length === 1 && words[0] === 'cdr' ? 'cdr ' : null;
  if (group !== null && words.length < argv.length) {
    process.stdout.write(overview(group));
    return 0;
  }
  if (group === 'cdr ') process.stderr.write('error: cdr needs a command\n');
  else if (words.length > 0) process.stderr.write(`error: unknown command "${words.join(' ')}"\n`);
  process.stderr.write(overview(group ?? ''));
  return 2;
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
