/**
 * The composition root (`npm start`): configuration, storage (configured, local, or started here),
 * the tariff, the balance store, background jobs (ledger drain, reservation sweep) and the HTTP API.
 */
import { readFileSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import { createBalanceStore } from './balances/store.js';
import { createDirectory } from './charging/directory.js';
import { createSessions } from './charging/sessions.js';
import { ConfigError, loadConfig } from './config.js';
import { buildApp } from './http/app.js';
import { runEvery } from './infra/periodic.js';
import { webhookEngine } from './webhooks/engine.js';
import { postgresFor, redisFor } from './infra/connect.js';
import { checkRedisReady } from './infra/redis.js';
import { handleUncaught } from './infra/uncaught.js';
import { describeTariffError } from './cli/tariff-errors.js';
import { seedDemoAccounts } from './seed.js';
import { recoverBatches } from './cdr/batches.js';
import { createCdrJobs } from './cdr/jobs.js';
import { createRatingPool, type RatingPool } from './cdr/pool.js';
import { postgresUrlOf, redisWhere, startDrainThread } from './storage/drain-thread.js';
import { ensureEngineSchema } from './storage/schema.js';
import { repairPayments } from './payments/service.js';
import { voucherKeys } from './vouchers/keys.js';
import { repairVouchers } from './vouchers/repair.js';
import { loadWebhookKey } from './webhooks/secret-key.js';
import { createPdfRenderer } from './billing/documents/pdf-jobs.js';
import { openActiveTariff } from './tariffs/active.js';
import type { RunDeps } from './billing/run/run.js';
import { createRunThread, storesOf } from './billing/run/run-threads.js';
import { scheduledRuns } from './billing/run/scheduler.js';
import { scheduledStatements } from './billing/statements/scheduler.js';
import { renewDue } from './billing/plans/renewals.js';
import { rollupOnce } from './usage/rollup.js';
import { startNotificationJobs } from './notifications/jobs.js';
import { documentHooks } from './billing/run/posting.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const redisHandle = await redisFor(config);
  say(`balances: ${redisHandle.description}`);
  const pgHandle = await postgresFor(config);
  say(`history:  ${pgHandle.description}`);
  const tariff = await openActiveTariff(
    config.tariffDir,
    config.tariffTimezone ? { timezone: config.tariffTimezone } : {},
  );
  const t = tariff.info();
  say(
    `tariff:   ${t.dir} (${t.format}): ${t.counts.prefixes} prefixes, ${t.counts.ratingPlans} rating plans`,
  );

  const schema = config.dbSchema;
  await ensureEngineSchema(pgHandle.pool, schema);
  const balances = createBalanceStore({
    redis: redisHandle.redis,
    keyPrefix: config.keyPrefix,
    replicaWait: config.redisWait,
  });
  const directory = createDirectory(balances);
  if (config.demoKeys) {
    await seedDemoAccounts(balances);
    say('demo:     accounts alice (prepaid, msisdn 447700900001) and bob (postpaid) in tenant acme');
    say('demo:     API keys demo-billing, demo-network, demo-selfcare-alice (set API_KEYS to replace them)');
  }
  // Sessions report the money their reservations hold, and CDR jobs their records, to metrics that
  // exist once the app does.
  // Filled in once the app (and its metrics) exists.
  const sessionMetrics = {
    held: (_deltaNano: number): void => {},
    open: (_delta: 1 | -1): void => {},
  };
  const cdrCounted = {
    report: (_d: { read: number; stored: number; rejected: number; duplicates: number }): void => {},
  };
  const sessions = createSessions({
    balances,
    directory,
    tariff: () => tariff.current(),
    now: Date.now,
    onHeld: (delta) => sessionMetrics.held(delta),
    onOpenSessions: (delta) => sessionMetrics.open(delta),
    ...(config.topUpUrl ? { topUpUrl: config.topUpUrl } : {}),
  });
  // Invoice and credit-note PDFs, rendered in the background on a worker pool of their own (made
  // when first needed: threads start on the first pending document); every minute and when kicked.
  const pdfRenderer = createPdfRenderer({
    pool: pgHandle.pool,
    schema,
    everyMs: 60_000,
    onError: (err) => app.log.warn({ err }, 'a PDF was not rendered (retried on the next pass)'),
  });
  let ratingPool: RatingPool | undefined;
  const cdrJobs = createCdrJobs({
    pool: pgHandle.pool,
    schema,
    balances,
    rating: () =>
      (ratingPool ??= createRatingPool({
        tariffDir: config.tariffDir,
        ...(config.tariffTimezone ? { timezone: config.tariffTimezone } : {}),
      })),
    onCounters: (d) => cdrCounted.report(d),
    chunkBytes: config.cdrChunkKiB * 1024,
    maxLineBytes: config.cdrMaxLineBytes,
  });
  const billingRuns: RunDeps = {
    pool: pgHandle.pool,
    schema,
    balances,
    now: Date.now,
    chunkSize: config.billing.chunk,
    zeroInvoices: config.billing.zeroInvoices,
    renew: (tenant, asOfMs) =>
      renewDue({ pool: pgHandle.pool, schema, balances, now: Date.now }, tenant, asOfMs),
  };
  // Runs in a thread of their own: a run's CPU work must not hold the thread that answers charging.
  const runThread = config.billing.thread
    ? createRunThread({
        ...storesOf(pgHandle.pool, redisHandle.redis, config.redisCluster),
        commandTimeoutMs: config.redisCommandTimeoutMs,
        keyPrefix: config.keyPrefix,
        schema,
        replicaWait: config.redisWait,
        chunkSize: config.billing.chunk,
        zeroInvoices: config.billing.zeroInvoices,
      })
    : undefined;
  if (runThread) billingRuns.elsewhere = runThread.start;
  if (config.redisCluster && !config.webhooks.secretKey)
    // Several engines each with a key of its own would disagree on webhook secrets and voucher PINs.
    say(
      'warning:  a Redis Cluster without WEBHOOK_SECRET_KEY: set one, the same on every engine (docs/SCALE-OUT.md)',
    );
  const webhooks = webhookEngine(pgHandle.pool, schema, config);
  const vouchers = {
    pool: pgHandle.pool,
    schema,
    balances,
    redis: redisHandle.redis,
    keyPrefix: config.keyPrefix,
    keys: voucherKeys(loadWebhookKey(config.webhooks.secretKey, config.dataDir)),
    plans: { pool: pgHandle.pool, schema, balances, now: Date.now },
    now: Date.now,
  };
  const app = await buildApp({
    plans: { pool: pgHandle.pool, schema, balances, now: Date.now },
    billingRuns,
    apiKeys: config.apiKeys,
    maxInFlight: config.maxInFlight,
    tariff,
    balances,
    sessions,
    directory,
    history: { pool: pgHandle.pool, schema },
    usage: { pool: pgHandle.pool, schema, balances, plans: true, invoices: true },
    webhooks: webhooks.deps,
    payments: { pool: pgHandle.pool, schema, balances },
    notifications: { pool: pgHandle.pool, schema, balances },
    ledgerReports: { pool: pgHandle.pool, schema, balances },
    vouchers,
    ...(config.cgrates ? { cgrates: { ...config.cgrates, store: { pool: pgHandle.pool, schema } } } : {}),
    documents: { pool: pgHandle.pool, schema, pdf: pdfRenderer, hooks: documentHooks(balances, schema) },
    cdrJobs: {
      jobs: cdrJobs,
      uploadDir: `${config.dataDir}/cdr-uploads`,
      maxUploadBytes: config.cdrUploadMaxBytes,
    },
    health: {
      redis: { ping: () => checkRedisReady(redisHandle.redis) },
      postgres: { ping: () => pgHandle.pool.query('select 1') },
    },
    deadlines: { chargingMs: config.requestDeadlineMs, provisioningMs: config.provisioningDeadlineMs },
    logger: { level: config.logLevel },
  });
  sessionMetrics.held = (delta) => app.chargingMetrics.reservedMoney.inc(delta);
  sessionMetrics.open = (delta) => app.chargingMetrics.openSessions.inc(delta);
  cdrCounted.report = (d) => {
    app.chargingMetrics.cdrRecords.inc({ outcome: 'read' }, d.read);
    app.chargingMetrics.cdrRecords.inc({ outcome: 'stored' }, d.stored);
    app.chargingMetrics.cdrRecords.inc({ outcome: 'rejected' }, d.rejected);
    app.chargingMetrics.cdrRecords.inc({ outcome: 'duplicate' }, d.duplicates);
  };
  // The outboxes (ledger, rated records, trail) reach PostgreSQL every 100 ms, in order, idempotently;
  // now and then every outbox is read, in case a dirty mark was lost to a race. In a thread of its
  // own, with its own connections: not on the event loop that answers requests.
  const drainThread = startDrainThread(
    {
      ...redisWhere(redisHandle.redis),
      commandTimeoutMs: config.redisCommandTimeoutMs,
      postgresUrl: postgresUrlOf(pgHandle.pool),
      schema,
      keyPrefix: config.keyPrefix,
    },
    app.log,
  );
  // Payments a crash left between PostgreSQL and Redis are finished (docs/PAYMENTS.md).
  void repairPayments({ pool: pgHandle.pool, schema, balances }).catch((err: unknown) =>
    app.log.error({ err }, 'payment repair failed'),
  );
  // Batches left generating and redemptions left between PostgreSQL and Redis (docs/VOUCHERS.md):
  // at start, then every minute (with several engines, the one that stopped may not restart).
  void repairVouchers({ ...vouchers, log: app.log }).catch((err: unknown) =>
    app.log.error({ err }, 'voucher repair failed'),
  );
  const stopVoucherRepair = runEvery({
    name: 'voucher repair',
    everyMs: 60_000,
    job: () => repairVouchers({ ...vouchers, log: app.log }),
    log: app.log,
  });
  // Account events go out to their webhook endpoints (docs/EVENTS.md).
  webhooks.start(app.log);
  // Sessions whose time has come are closed by their sweep hints (a session's reservations go with
  // it; a reservation past its expiry is released by the next step on its account).
  const stopSweep = runEvery({
    name: 'sweep',
    everyMs: 1000,
    job: async () => {
      const closed = await sessions.sweep();
      app.chargingMetrics.sessionExpiries.inc(closed);
    },
    log: app.log,
  });

  // CDR batches an importer left behind (it died before storing them) are given back.
  const stopRecovery = runEvery({
    name: 'CDR batch recovery',
    everyMs: 60_000,
    job: () => recoverBatches(pgHandle.pool, schema, balances, Date.now()),
    log: app.log,
  });

  // Usage stored since the last pass is folded into usage_daily (docs/SELFCARE.md): every 10 s, so
  // the usage views are well within 30 s of online usage; backs off while PostgreSQL is away.
  const stopRollup = runEvery({
    name: 'usage rollup',
    everyMs: 10_000,
    maxBackoffMs: 60_000,
    job: () => rollupOnce(pgHandle.pool, schema),
    log: app.log,
  });

  // A reconciliation difference at the end of a run (API, scheduler) is logged here.
  billingRuns.log = app.log;
  // Billing runs as of now, every BILLING_RUN_EVERY seconds (0: off): renewals, periods, invoices;
  // then prepaid statements due.
  const stopBilling =
    config.billing.runEverySeconds > 0
      ? runEvery({
          name: 'billing runs',
          everyMs: config.billing.runEverySeconds * 1000,
          job: async () => {
            await scheduledRuns(billingRuns);
            await scheduledStatements({ pool: pgHandle.pool, schema }, Date.now());
          },
          log: app.log,
        })
      : async () => {};

  // Notifications judged from the drained ledger, overdue reminders and suspensions (docs/EVENTS.md).
  const stopNotifications = startNotificationJobs({ pool: pgHandle.pool, schema, balances }, app.log);

  // Requests first, then the background jobs, then the last drain, and only then the storage this
  // engine may have started itself: what Redis holds reaches PostgreSQL before either stops.
  let closing: Promise<void> | undefined;
  const shutdown = (err?: unknown) =>
    (closing ??= (async () => {
      if (err) app.log.error({ err }, 'shutting down after an error');
      await app.close(); // finishes requests in flight
      await stopSweep();
      await webhooks.stop();
      await stopRecovery();
      await stopVoucherRepair();
      await stopBilling();
      await stopRollup();
      await stopNotifications();
      await cdrJobs.close(); // a job cut short would only be resumed; let the ones in flight finish
      await pdfRenderer.close();
      await runThread?.close();
      await ratingPool?.close();
      const last = await drainThread.stop();
      if ('stored' in last) app.log.info({ stored: last.stored }, 'final drain to PostgreSQL done');
      else app.log.error({ err: last.error }, 'final drain failed: the next start stores the rest');
      await redisHandle.stop();
      await pgHandle.stop();
    })());
  // Uncaught errors are handled here (a dependency error must not end the engine), signals there.
  closeWithGrace({ delay: 10_000, skip: ['uncaughtException', 'unhandledRejection'] }, () => shutdown());
  handleUncaught(app.log, shutdown);
  await drainThread.ready;
  const address = await app.listen({ port: config.port, host: config.host });
  const resumed = await cdrJobs.resumeUnfinished();
  if (resumed) say(`cdr:      resumed ${resumed} CDR import job(s) a stop had interrupted`);
  const base = address; // the real port when PORT=0 asked the system for one
  say(`\nOCS engine listening on ${base}  (API docs: ${base}/docs, metrics: ${base}/metrics)`);
  if (config.demoKeys) {
    say(`try:  curl -s -H 'Authorization: Bearer demo-selfcare-alice' ${base}/v1/me`);
    say(
      `      curl -s -H 'Authorization: Bearer demo-network' -H 'content-type: application/json' ${base}/v1/rating/price \\`,
    );
    say(
      `        -d '{"category":"call","subject":"alice","destination":"+442071234567","answerTime":"2026-11-20T10:15:00Z","usage":95,"tor":"voice"}'`,
    );
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`configuration error: ${err.message}\n`);
  else if (err instanceof Error && err.name === 'TariffError')
    process.stderr.write(describeTariffError(err, process.env.TARIFF_DIR ?? 'tariffs/sample'));
  else process.stderr.write(`cannot start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
