/**
 * `cli billing statements --at ISO [--tenant T] [--accounts a,b]`: prepaid statements for every bill
 * period due by then (billing/statements/produce.ts); `cli billing reconcile [--tenant T]
 * [--account A]`: the reconciliation report (billing/reconcile/). Both drain the outboxes first, so
 * the ledger holds every movement Redis made before the command started. One JSON line on stdout.
 */
import { previewStatement, produceStatements } from '../billing/statements/produce.js';
import {
  parkDiffering,
  reconcile,
  ReconcileAccountNotFound,
  reportJson,
} from '../billing/reconcile/reconcile.js';
import { ensureEngineSchema } from '../storage/schema.js';
import { drainOutboxes } from '../storage/outbox.js';
import { withEngine, type Engine } from './engine.js';
import { startProgress } from './progress.js';

/** Exit code of `billing reconcile` when it found a difference. */
export const DIFFERENCES_FOUND = 4;

async function drained(e: Engine): Promise<void> {
  await ensureEngineSchema(e.pool, e.schema);
  await drainOutboxes(
    { redis: e.balances.redis, pool: e.pool, schema: e.schema, keyPrefix: e.config.keyPrefix, full: true },
    1000,
  );
}

function progressOf(label: string, everySeconds: number) {
  let p: ReturnType<typeof startProgress> | undefined;
  return {
    onAccount: (done: number, total: number) => {
      p ??= startProgress({ label, total, everySeconds });
      p.update(done, `${done.toLocaleString('en')} accounts`);
    },
    stop: () => p?.stop(),
  };
}

export async function billingStatementsCommand(o: {
  at: string;
  tenant: string;
  accounts?: string[];
  preview?: boolean;
  progressSeconds: number;
}): Promise<number> {
  return withEngine(async (e) => {
    await drained(e);
    if (o.preview) return previewCommand(e, o.tenant, o.accounts ?? [], Date.parse(o.at));
    const started = Date.now();
    const progress = progressOf('statements', o.progressSeconds);
    const s = await produceStatements({ pool: e.pool, schema: e.schema }, o.tenant, Date.parse(o.at), {
      ...(o.accounts ? { accounts: o.accounts } : {}),
      onAccount: progress.onAccount,
    });
    progress.stop();
    process.stdout.write(`${JSON.stringify({ ...s, seconds: (Date.now() - started) / 1000 })}\n`);
    return 0;
  });
}

async function previewCommand(
  e: Engine,
  tenant: string,
  accounts: string[],
  asOfMs: number,
): Promise<number> {
  let missing = 0;
  for (const a of accounts) {
    const s = await previewStatement({ pool: e.pool, schema: e.schema }, tenant, a, asOfMs);
    if (s) process.stdout.write(`${JSON.stringify(s)}\n`);
    else {
      process.stderr.write(`account ${a} has no prepaid statement profile in tenant ${tenant}\n`);
      missing++;
    }
  }
  return missing === 0 ? 0 : 1;
}

export async function billingReconcileCommand(o: {
  tenant: string;
  account?: string;
  park?: boolean;
  progressSeconds: number;
}): Promise<number> {
  return withEngine(async (e) => {
    await drained(e);
    const progress = progressOf('reconcile', o.progressSeconds);
    try {
      const deps = { pool: e.pool, schema: e.schema, balances: e.balances };
      const s = await reconcile(deps, o.tenant, o.account ? [o.account] : undefined, progress.onAccount);
      progress.stop();
      const parked = o.park ? { parked: await parkDiffering(deps, o.tenant, s.reports) } : {};
      process.stdout.write(`${JSON.stringify(reportJson({ ...s, ...parked }))}\n`);
      return s.clean ? 0 : DIFFERENCES_FOUND;
    } catch (err) {
      progress.stop();
      if (!(err instanceof ReconcileAccountNotFound)) throw err;
      process.stderr.write(`no account ${o.account} in tenant ${o.tenant}\n`);
      return 1;
    }
  });
}
