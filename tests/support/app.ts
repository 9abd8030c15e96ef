/** The HTTP app wired as main.ts wires it, on the test's Redis and key prefix. */
import { createBalanceStore } from '../../src/balances/store.js';
import { createSessions } from '../../src/charging/sessions.js';
import { DEMO_KEYS, type ApiKey } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openActiveTariff } from '../../src/tariffs/active.js';
import { createDirectory } from '../../src/charging/directory.js';
import type { History } from '../../src/storage/history.js';
import type { CdrJobs } from '../../src/cdr/jobs.js';
import type { RunDeps } from '../../src/billing/run/run.js';
import type { PlansDeps } from '../../src/billing/plans/db.js';
import type { DocumentRouteDeps } from '../../src/http/routes/document-service.js';
import type { RedisClient } from '../../src/infra/redis.js';
import type { WebhookDeps } from '../../src/webhooks/deps.js';
import type { UsageDeps } from '../../src/http/routes/usage.js';
import type { CgratesApiOptions } from '../../src/cgrates-api/route.js';
import { randomBytes } from 'node:crypto';
import { voucherKeys, type VoucherKeys } from '../../src/vouchers/keys.js';

export async function testApp(opts: {
  history?: History;
  cdrJobs?: { jobs: CdrJobs; uploadDir: string };
  billingRuns?: RunDeps;
  documents?: DocumentRouteDeps;
  webhooks?: WebhookDeps;
  payments?: { pool: PlansDeps['pool']; schema: string };
  /** Vouchers (src/vouchers/): keys random per app unless given; plan vouchers when `plans`. */
  vouchers?: { pool: PlansDeps['pool']; schema: string; keys?: VoucherKeys; plans?: boolean };
  /** Usage views (the balances and clock are the app's). */
  usage?: Omit<UsageDeps, 'balances' | 'now'>;
  plans?: { pool: PlansDeps['pool']; schema: string };
  /** Notification rules, auto top-up and dunning settings (the balances are the app's). */
  notifications?: { pool: PlansDeps['pool']; schema: string };
  /** Prepaid statements and the reconciliation report (the balances are the app's). */
  ledgerReports?: { pool: PlansDeps['pool']; schema: string };
  redis: RedisClient;
  prefix: string;
  tariffDir?: string;
  keys?: ApiKey[];
  now?: () => number;
  /** CGRateS's JSON-RPC API (src/cgrates-api/). */
  cgrates?: CgratesApiOptions;
}) {
  const now = opts.now ?? Date.now;
  const balances = createBalanceStore({ redis: opts.redis, keyPrefix: opts.prefix, now });
  const tariff = await openActiveTariff(opts.tariffDir ?? 'tariffs/sample');
  const directory = createDirectory(balances);
  const sessionMetrics = {
    held: (_deltaNano: number): void => {},
    open: (_delta: 1 | -1): void => {},
  };
  const sessions = createSessions({
    balances,
    directory,
    tariff: () => tariff.current(),
    now,
    topUpUrl: 'https://topup.example/?msisdn={msisdn}',
    onHeld: (delta) => sessionMetrics.held(delta),
    onOpenSessions: (delta) => sessionMetrics.open(delta),
  });
  const app = await buildApp({
    apiKeys: opts.keys ?? DEMO_KEYS,
    maxInFlight: 100,
    tariff,
    balances,
    sessions,
    directory,
    ...(opts.history ? { history: opts.history } : {}),
    ...(opts.cdrJobs ? { cdrJobs: opts.cdrJobs } : {}),
    ...(opts.billingRuns ? { billingRuns: opts.billingRuns } : {}),
    ...(opts.documents ? { documents: opts.documents } : {}),
    ...(opts.webhooks ? { webhooks: opts.webhooks } : {}),
    ...(opts.usage ? { usage: { ...opts.usage, balances, now } } : {}),
    ...(opts.payments ? { payments: { ...opts.payments, balances } } : {}),
    ...(opts.vouchers
      ? { vouchers: voucherDeps(opts.vouchers, balances, opts.redis, opts.prefix, now) }
      : {}),
    ...(opts.plans ? { plans: { ...opts.plans, balances, now } } : {}),
    ...(opts.notifications ? { notifications: { ...opts.notifications, balances } } : {}),
    ...(opts.ledgerReports ? { ledgerReports: { ...opts.ledgerReports, balances } } : {}),
    ...(opts.cgrates ? { cgrates: opts.cgrates } : {}),
    health: { redis: opts.redis },
  });
  sessionMetrics.held = (delta) => app.chargingMetrics.reservedMoney.inc(delta);
  sessionMetrics.open = (delta) => app.chargingMetrics.openSessions.inc(delta);
  return { app, balances, tariff, sessions };
}

function voucherDeps(
  v: NonNullable<Parameters<typeof testApp>[0]['vouchers']>,
  balances: ReturnType<typeof createBalanceStore>,
  redis: RedisClient,
  keyPrefix: string,
  now: () => number,
) {
  const { pool, schema } = v;
  return {
    pool,
    schema,
    balances,
    redis,
    keyPrefix,
    now,
    keys: v.keys ?? voucherKeys(randomBytes(32)),
    ...(v.plans ? { plans: { pool, schema, balances, now } } : {}),
  };
}
