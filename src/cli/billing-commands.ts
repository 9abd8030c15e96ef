/**
 * `cli billing run --at ISO [--tenant T] [--accounts a,b] [--dry-run] [--no-finalize]`: a billing run
 * against the engine's Redis and PostgreSQL with a progress bar (accounts/s, ETA) and one JSON summary
 * line on stdout; exit 0 done, 3 failed or refused (resumable: run the same command again).
 * `cli billing status RUN_ID`, `cli billing unpark ACCOUNT [--tenant T]`.
 */
import { unpark } from '../billing/run/accounts.js';
import { getRun } from '../billing/run/journal.js';
import { AsOfInFutureError, RunInProgressError, runBilling } from '../billing/run/run.js';
import { renewDue } from '../billing/plans/renewals.js';
import { ensureEngineSchema } from '../storage/schema.js';
import { withEngine } from './engine.js';
import { startProgress } from './progress.js';
import { STOPPED } from './stop.js';

export interface BillingRunOptions {
  at: string;
  tenant: string;
  accounts?: string[];
  dryRun: boolean;
  finalize: boolean;
  progressSeconds: number;
}

export async function billingRunCommand(o: BillingRunOptions): Promise<number> {
  return withEngine(async (e) => {
    await ensureEngineSchema(e.pool, e.schema);
    let progress: ReturnType<typeof startProgress> | undefined;
    const started = Date.now();
    const deps = {
      pool: e.pool,
      schema: e.schema,
      balances: e.balances,
      now: Date.now,
      chunkSize: e.config.billing.chunk,
      zeroInvoices: e.config.billing.zeroInvoices,
      renew: (tenant: string, asOfMs: number) =>
        renewDue({ pool: e.pool, schema: e.schema, balances: e.balances, now: Date.now }, tenant, asOfMs),
      // A reconciliation difference at the end of the run: on stderr too (the summary has it all).
      log: { warn: (_o: object, msg: string) => void process.stderr.write(`warning: ${msg}\n`) },
      onProgress: (p: { step: string; accountsDone: number; accountsTotal: number }) => {
        if (p.step !== 'chunks') return;
        progress ??= startProgress({
          label: 'billing run',
          total: p.accountsTotal,
          everySeconds: o.progressSeconds,
        });
        const rate = p.accountsDone / Math.max(0.001, (Date.now() - started) / 1000);
        progress.update(
          p.accountsDone,
          `${p.accountsDone.toLocaleString('en')} accounts, ${Math.round(rate)}/s`,
        );
      },
    };
    try {
      const s = await runBilling(deps, {
        tenant: o.tenant,
        asOf: new Date(o.at),
        ...(o.accounts ? { accounts: o.accounts } : {}),
        dryRun: o.dryRun,
        finalize: o.finalize,
        requestedBy: 'cli',
      });
      progress?.stop();
      process.stdout.write(`${JSON.stringify({ ...s, seconds: (Date.now() - started) / 1000 })}\n`);
      return s.status === 'done' ? 0 : STOPPED;
    } catch (err) {
      progress?.stop();
      if (!(err instanceof RunInProgressError || err instanceof AsOfInFutureError)) throw err;
      process.stdout.write(
        `${JSON.stringify({ status: 'refused', code: err.code, message: err.message })}\n`,
      );
      return STOPPED;
    }
  });
}

export async function billingStatusCommand(runId: string, tenant: string): Promise<number> {
  return withEngine(async (e) => {
    await ensureEngineSchema(e.pool, e.schema);
    const run = await getRun(e.pool, e.schema, tenant, runId);
    if (!run) {
      process.stderr.write(`no billing run ${runId} in tenant ${tenant}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(run)}\n`);
    return 0;
  });
}

export async function billingUnparkCommand(accountId: string, tenant: string): Promise<number> {
  return withEngine(async (e) => {
    await ensureEngineSchema(e.pool, e.schema);
    if (!(await unpark(e.pool, e.schema, tenant, accountId))) {
      process.stderr.write(`no billing profile for account ${accountId} in tenant ${tenant}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify({ accountId, parked: false })}\n`);
    return 0;
  });
}
