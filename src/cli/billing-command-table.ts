/**
 * The billing staff's commands beyond `billing run`: statements, reconciliation, the catalog file and
 * invoices. Entries of the one command table (commands.ts spreads them in); their code loads when one
 * runs. `usageError` is commands.ts's UsageError, passed in so this file imports it only as a type.
 */
import type { Command, Values } from './commands.js';
import { PROGRESS_SECONDS } from './progress.js';

const PROGRESS_HELP = `  --progress-seconds S  a progress bar on a terminal, a line every S seconds elsewhere (0: none)`;
const str = (v: Values, name: string) => (typeof v[name] === 'string' ? v[name] : undefined);
const tenantOf = (v: Values) => str(v, 'tenant') ?? 'acme';

export function billingCommandTable(usageError: new (message: string) => Error): Command[] {
  const progressSeconds = (v: Values) => {
    const raw = str(v, 'progress-seconds');
    const s = raw === undefined ? PROGRESS_SECONDS : Number(raw);
    if (!Number.isFinite(s) || s < 0 || s > 86_400)
      throw new usageError('--progress-seconds must be in 0..86400');
    return s;
  };
  const iso = (v: Values, name: string) => {
    const raw = str(v, name);
    if (raw === undefined || Number.isNaN(Date.parse(raw)))
      throw new usageError(`--${name} must be an ISO-8601 time (2026-12-01T00:00:00Z)`);
    return raw;
  };
  const one = (args: string[], what: string) => {
    if (args.length !== 1) throw new usageError(`needs one ${what}`);
    return args[0]!;
  };
  const statements = () => import('./statement-commands.js');
  const documents = () => import('./invoice-commands.js');
  return [
    {
      name: 'billing statements',
      synopsis:
        'billing statements --at ISO [--tenant T] [--accounts a,b] [--preview] [--progress-seconds S]',
      help: `Writes prepaid statements from the ledger for every bill period that ended (plus the profile's
grace hours) by --at: opening balance, credits, debits by kind and service, closing balance. Written
once per period: run it again and nothing is written twice. One JSON summary line on stdout.
  --at ISO              periods ending by then
  --tenant T            the tenant (default acme)
  --accounts a,b        only these accounts
  --preview             print each of --accounts' open period so far (to --at) as one JSON line;
                        write nothing
${PROGRESS_HELP}`,
      options: {
        preview: { type: 'boolean' },
        at: { type: 'string' },
        tenant: { type: 'string' },
        accounts: { type: 'string' },
        'progress-seconds': { type: 'string' },
      },
      async run(v) {
        const accounts = str(v, 'accounts')?.split(',').filter(Boolean);
        if (v.preview === true && !accounts?.length) throw new usageError('--preview needs --accounts');
        const { billingStatementsCommand } = await statements();
        return billingStatementsCommand({
          preview: v.preview === true,
          at: iso(v, 'at'),
          tenant: tenantOf(v),
          ...(accounts ? { accounts } : {}),
          progressSeconds: progressSeconds(v),
        });
      },
    },
    {
      name: 'billing reconcile',
      synopsis: 'billing reconcile [--tenant T] [--account A] [--park] [--progress-seconds S]',
      help: `Checks that every balance in Redis equals the sum of its ledger, and that a postpaid account's
money equals − open amount due − unbilled charges (+ unapplied payments and account credit), after
draining the outboxes. One JSON report on stdout: each difference with its amount and reason.
  --tenant T            the tenant (default acme)
  --account A           only this account (default: every account with a billing profile)
  --park                park each account with a difference (RECONCILIATION_MISMATCH): billing runs
                        skip it until \`billing unpark\`
${PROGRESS_HELP}
exit codes: 0 everything reconciles, 1 unknown account, 4 differences found`,
      options: {
        tenant: { type: 'string' },
        account: { type: 'string' },
        park: { type: 'boolean' },
        'progress-seconds': { type: 'string' },
      },
      async run(v) {
        const account = str(v, 'account');
        const { billingReconcileCommand } = await statements();
        return billingReconcileCommand({
          tenant: tenantOf(v),
          ...(account ? { account } : {}),
          park: v.park === true,
          progressSeconds: progressSeconds(v),
        });
      },
    },
    {
      name: 'plans load',
      synopsis: 'plans load FILE [--tenant T]',
      help: `Loads a catalog file (JSON: entity, taxes, taxProfiles, coupons, plans; the sample is
tariffs/billing/catalog.json, the format in docs/BILLING.md)
in that order. Idempotent: a plan whose body did not change keeps its version, the same tax range
and coupon body again change nothing. Stops at the first refusal, naming it (exit 1).
  --tenant T            the tenant (default acme)`,
      options: { tenant: { type: 'string' } },
      positionals: true,
      async run(v, args) {
        const file = one(args, 'FILE');
        const { plansLoadCommand } = await import('./plan-commands.js');
        return plansLoadCommand(file, tenantOf(v));
      },
    },
    {
      name: 'invoices show',
      synopsis: 'invoices show ID|NUMBER [--tenant T]',
      help: `Prints an invoice (header, lines, tax summary, credit notes, canonical document) as JSON, found
by its id or its number (INV2026-000001). Exit 1 when there is none.
  --tenant T            the tenant (default acme)`,
      options: { tenant: { type: 'string' } },
      positionals: true,
      async run(v, args) {
        const { invoicesShowCommand } = await documents();
        return invoicesShowCommand(one(args, 'invoice id or number'), tenantOf(v));
      },
    },
    {
      name: 'invoices export',
      synopsis: 'invoices export --from DATE --to DATE [--format csv|json] [--tenant T]',
      help: `Writes the accounting export (one row per line of every invoice and credit note issued from
--from to --to, issue dates inclusive) to stdout, as GET /v1/invoices/export does.
  --from, --to DATE     YYYY-MM-DD
  --format csv|json     csv (default) or json (one JSON object per line)
  --tenant T            the tenant (default acme)`,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
        tenant: { type: 'string' },
      },
      async run(v) {
        const day = (name: string) => {
          const d = str(v, name);
          if (!d || !/^\d{4}-\d{2}-\d{2}$/.test(d) || Number.isNaN(Date.parse(d)))
            throw new usageError(`--${name} must be a date YYYY-MM-DD`);
          return d;
        };
        const format = str(v, 'format') ?? 'csv';
        if (format !== 'csv' && format !== 'json') throw new usageError('--format must be csv or json');
        const { invoicesExportCommand } = await documents();
        return invoicesExportCommand({ from: day('from'), to: day('to'), format, tenant: tenantOf(v) });
      },
    },
    {
      name: 'invoices render-pdf',
      synopsis: 'invoices render-pdf ID|NUMBER --out FILE [--tenant T]',
      help: `Renders an issued invoice's PDF from its canonical document (the same bytes as GET …/pdf) into
FILE. A draft has no PDF (exit 1).
  --out FILE            where to write it
  --tenant T            the tenant (default acme)`,
      options: { out: { type: 'string' }, tenant: { type: 'string' } },
      positionals: true,
      async run(v, args) {
        const out = str(v, 'out');
        if (!out) throw new usageError('render-pdf needs --out FILE');
        const { invoicesRenderPdfCommand } = await documents();
        return invoicesRenderPdfCommand(one(args, 'invoice id or number'), out, tenantOf(v));
      },
    },
  ];
}
