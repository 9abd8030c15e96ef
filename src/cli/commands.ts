/**
 * The commands: their usage text, their options, and how a parsed command line runs. One table, so
 * `--help` works the same on every command and the general usage lists them all.
 */
import { type ParseArgsConfig } from 'node:util';
import { generateCdrFile, MAX_SUBSCRIBERS } from '../cdr/generate.js';
import { PROGRESS_SECONDS } from './progress.js';
import { billingCommandTable } from './billing-command-table.js';
import { voucherCommandTable } from './voucher-commands.js';

// The commands' code (Redis, PostgreSQL, the rating pool…) is loaded when one runs, so that
// `--help` and a usage error answer at once.
const cdrCommands = () => import('./cdr-commands.js');
const billingCommands = () => import('./billing-commands.js');

export type Values = Record<string, string | boolean | undefined>;

/** A command line that does not make sense: exit code 2 with the command's usage. */
export class UsageError extends Error {}

export interface Command {
  /** The words that name it: 'cdr import'. */
  name: string;
  /** Its arguments and options in one line. */
  synopsis: string;
  /** What it does, and each option, for `--help`. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  positionals?: boolean;
  run(values: Values, positionals: string[]): Promise<number>;
}

const PROGRESS_HELP = `  --progress-seconds S  on a terminal a progress bar; elsewhere (cron, logs) a line every S seconds
                        (default ${PROGRESS_SECONDS}; 0: no progress)`;

function seconds(v: Values, name: string, fallback: number): number {
  const raw = v[name];
  if (raw === undefined) return fallback;
  const s = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(s) || s < 0 || s > 86_400)
    throw new UsageError(`--${name} must be a number of seconds in 0..86400, got "${String(raw)}"`);
  return s;
}

function isoTime(v: Values, name: string, required: boolean): string | undefined {
  const raw = v[name];
  if (raw === undefined && !required) return undefined;
  if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw)))
    throw new UsageError(`--${name} must be an ISO-8601 time (2026-11-20T00:00:00Z)`);
  return raw;
}

function wholeNumber(v: Values, name: string, min: number, max: number, fallback?: number): number {
  const raw = v[name];
  if (raw === undefined && fallback !== undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number in ${min}..${max}`);
  return n;
}

/** YYYY-MM-DD of a real day (a round trip through Date catches the 30th of February). */
function isDay(s: string): boolean {
  const t = Date.parse(`${s}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
}

const str = (v: Values, name: string) => (typeof v[name] === 'string' ? v[name] : undefined);

/** A billing command's tenant: --tenant, else acme (the demo's). */
const tenantOf = (v: Values) => str(v, 'tenant') ?? 'acme';

export const COMMANDS: Command[] = [
  {
    name: 'billing run',
    synopsis:
      'billing run --at ISO [--tenant T] [--accounts a,b] [--dry-run] [--no-finalize] [--progress-seconds S]',
    help: `Runs a tenant's billing cycle as of an instant: renewals, bill periods closed, cut-off, drafts,
finalization (docs/BILLING.md). The same --at again resumes the same run and changes nothing done.
One JSON summary line on stdout.
  --at ISO              the run's asOf (not in the future)
  --tenant T            the tenant (default acme)
  --accounts a,b        only these accounts
  --dry-run             build the drafts and write nothing (counters say what a run would do)
  --no-finalize         leave the drafts as drafts
${PROGRESS_HELP}
exit codes: 0 done, 2 bad command line, 3 failed or refused (another run in progress): run it again`,
    options: {
      at: { type: 'string' },
      tenant: { type: 'string' },
      accounts: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'no-finalize': { type: 'boolean' },
      'progress-seconds': { type: 'string' },
    },
    async run(v) {
      const accounts = str(v, 'accounts')
        ?.split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      if (accounts && accounts.length === 0) throw new UsageError('--accounts needs at least one account id');
      const { billingRunCommand } = await billingCommands();
      return billingRunCommand({
        at: isoTime(v, 'at', true)!,
        tenant: tenantOf(v),
        ...(accounts ? { accounts } : {}),
        dryRun: v['dry-run'] === true,
        finalize: v['no-finalize'] !== true,
        progressSeconds: seconds(v, 'progress-seconds', PROGRESS_SECONDS),
      });
    },
  },
  {
    name: 'billing status',
    synopsis: 'billing status RUN_ID [--tenant T]',
    help: `Prints a billing run (status, counters) as one JSON line.
  --tenant T            the tenant (default acme)`,
    options: { tenant: { type: 'string' } },
    positionals: true,
    async run(v, args) {
      if (args.length !== 1) throw new UsageError('billing status needs one RUN_ID');
      const { billingStatusCommand } = await billingCommands();
      return billingStatusCommand(args[0]!, tenantOf(v));
    },
  },
  {
    name: 'billing unpark',
    synopsis: 'billing unpark ACCOUNT [--tenant T]',
    help: `Lets billing runs bill a parked account again (after its cause was fixed).
  --tenant T            the tenant (default acme)`,
    options: { tenant: { type: 'string' } },
    positionals: true,
    async run(v, args) {
      if (args.length !== 1) throw new UsageError('billing unpark needs one ACCOUNT');
      const { billingUnparkCommand } = await billingCommands();
      return billingUnparkCommand(args[0]!, tenantOf(v));
    },
  },
  {
    name: 'rate',
    synopsis: 'rate --tariff DIR [--timezone ZONE]',
    help: `Rates JSON-line events from stdin: one JSON line per event on stdout, in order.
  --tariff DIR          the tariff folder (native tariff.json or CGRateS CSV)
  --timezone ZONE       the zone of a CGRateS folder (default UTC; a native tariff names its own)`,
    options: { tariff: { type: 'string' }, timezone: { type: 'string' } },
    async run(v) {
      const tariff = str(v, 'tariff');
      if (!tariff) throw new UsageError('rate needs --tariff DIR');
      const timezone = str(v, 'timezone');
      const { rateCommand } = await import('./rate-command.js');
      return rateCommand({ tariff, ...(timezone ? { timezone } : {}) }, process.stdin, process.stdout);
    },
  },
  {
    name: 'cdr import',
    synopsis: 'cdr import FILE... [--mapping FILE] [--tenant T] [--progress-seconds S]',
    help: `Rates, charges and stores CDR files (CSV or gzip) in Redis and PostgreSQL as \`npm start\` finds
them. Each CDR id is charged once; a file fed again charges nothing twice. A summary per file on stdout.
Ctrl-C (or SIGTERM) stops cleanly: the chunks being charged are stored, the summary says where it
stopped, and the exit code is 3; run the same command again to go on from there.
  --mapping FILE        a JSON column mapping for another layout (cdr-samples/README.md)
  --tenant T            the file is tenant T's: a line naming another tenant is a reject
                        (TENANT_MISMATCH), and a layout without a tenant column means T.
                        Without it, each line's tenant is charged: the command line is for
                        operators with direct access to Redis and PostgreSQL, not for tenants
${PROGRESS_HELP}
exit codes: 0 done, 2 bad command line, 3 stopped (Ctrl-C or SIGTERM, Redis or PostgreSQL not answering)`,
    options: {
      mapping: { type: 'string' },
      tenant: { type: 'string' },
      'progress-seconds': { type: 'string' },
    },
    positionals: true,
    async run(v, files) {
      if (files.length === 0) throw new UsageError('cdr import needs at least one FILE');
      const mapping = str(v, 'mapping');
      const tenant = str(v, 'tenant');
      const { cdrImportCommand } = await cdrCommands();
      return cdrImportCommand(files, {
        ...(mapping ? { mapping } : {}),
        ...(tenant ? { tenant } : {}),
        progressSeconds: seconds(v, 'progress-seconds', PROGRESS_SECONDS),
      });
    },
  },
  {
    name: 'cdr rerate',
    synopsis: 'cdr rerate --from T --to T [--account ID] [--progress-seconds S]',
    help: `Prices the stored CDRs answered in [from, to) again with the current tariff, stores the new
prices and moves only the differences on the balances (a debit or a refund), idempotently.
  --from T, --to T      ISO-8601 times (2026-11-20T00:00:00Z)
  --account ID          only this account's CDRs
${PROGRESS_HELP}`,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      account: { type: 'string' },
      'progress-seconds': { type: 'string' },
    },
    async run(v) {
      const account = str(v, 'account');
      const { cdrRerateCommand } = await cdrCommands();
      return cdrRerateCommand({
        from: isoTime(v, 'from', true)!,
        to: isoTime(v, 'to', true)!,
        ...(account ? { account } : {}),
        progressSeconds: seconds(v, 'progress-seconds', PROGRESS_SECONDS),
      });
    },
  },
  {
    name: 'cdr rejects',
    synopsis: 'cdr rejects --file F | --since T [--csv]',
    help: `Lists the lines imports could not take, in file and line order, with the reason and the raw
line: to read, or with --csv to fix and feed again. A count by reason on stderr.
  --file F              the file as it was imported: the path given to \`cdr import\`, or an HTTP job's id
  --since T             rejects stored at or after T (ISO-8601); with --file, both must hold
  --csv                 CSV with a header: file,line,reason,detail,raw,stored_at`,
    options: { file: { type: 'string' }, since: { type: 'string' }, csv: { type: 'boolean' } },
    async run(v) {
      const file = str(v, 'file');
      const since = isoTime(v, 'since', false);
      if (!file && !since) throw new UsageError('cdr rejects needs --file F or --since T');
      const { cdrRejectsCommand } = await import('./rejects-command.js');
      return cdrRejectsCommand(
        { ...(file ? { file } : {}), ...(since ? { since } : {}), csv: v.csv === true },
        process.stdout,
      );
    },
  },
  {
    name: 'cdr generate',
    synopsis:
      'cdr generate --out FILE --lines N [--seed S] [--gzip] [--subscribers N] [--day D] [--tenant T] [--broken-rate R]',
    help: `Writes a synthetic day of CDRs (voice, SMS, data), the same file for the same options and seed.
  --out FILE            where to write it
  --lines N             how many CDRs (after the header)
  --seed S              the random seed (default 1)
  --gzip                gzip-compressed
  --subscribers N       msisdns 447700900001 .. 447700900000+N (default 50, at most ${MAX_SUBSCRIBERS.toLocaleString('en')})
  --day D               the day of the traffic, UTC (default 2026-11-20)
  --tenant T            the tenant named on every line (default acme)
  --broken-rate R       the share of broken lines, 0..1 (default 0): missing fields, bad times, bad
                        usage, unknown services, unterminated quotes, each a reject when imported`,
    options: {
      out: { type: 'string' },
      lines: { type: 'string' },
      seed: { type: 'string' },
      gzip: { type: 'boolean' },
      subscribers: { type: 'string' },
      day: { type: 'string' },
      tenant: { type: 'string' },
      'broken-rate': { type: 'string' },
    },
    async run(v) {
      const out = str(v, 'out');
      if (!out) throw new UsageError('cdr generate needs --out FILE');
      const lines = wholeNumber(v, 'lines', 0, 1e9);
      const broken = Number(v['broken-rate'] ?? 0);
      if (!(broken >= 0 && broken <= 1)) throw new UsageError('--broken-rate must be a number in 0..1');
      const day = str(v, 'day');
      if (day !== undefined && !isDay(day)) throw new UsageError('--day must be a date, YYYY-MM-DD');
      const started = Date.now();
      const written = generateCdrFile(out, {
        lines,
        seed: wholeNumber(v, 'seed', 0, 2 ** 32 - 1, 1),
        gzip: v.gzip === true,
        subscribers: wholeNumber(v, 'subscribers', 1, MAX_SUBSCRIBERS, 50),
        ...(day ? { day: `${day}T00:00:00Z` } : {}),
        ...(str(v, 'tenant') ? { tenant: str(v, 'tenant')! } : {}),
        brokenRate: broken,
      });
      // The generator checks its options before it writes anything.
      await written.catch((err: unknown) => {
        throw err instanceof RangeError ? new UsageError(err.message) : err;
      });
      process.stderr.write(
        `wrote ${lines.toLocaleString('en')} CDRs to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      return 0;
    },
  },
  ...billingCommandTable(UsageError),
  ...voucherCommandTable(UsageError),
];
