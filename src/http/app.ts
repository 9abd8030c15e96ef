/**
 * Builds the HTTP app without listening (tests call `inject`); `src/main.ts` listens. Routes are
 * thin: validate (schemas on every route), call one service, answer.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { BalanceStore } from '../balances/store.js';
import type { ApiKey } from '../config.js';
import type { ActiveTariff } from '../tariffs/active.js';
import { registerAuth } from './auth.js';
import { registerDeadlines, type Deadlines } from './deadline.js';
import { AppError, clientErrorHandler, errorHandler } from './errors.js';
import { registerMetrics } from './metrics.js';
import { JSON_BODY_LIMIT_BYTES, registerJsonBody } from './json-body.js';
import { registerRouteTable } from './route-table.js';
import { chargingMetrics, type ChargingMetrics } from './charging-metrics.js';
import { accountRoutes } from './routes/accounts.js';
import { eventRoutes } from './routes/events.js';
import { sessionRoutes } from './routes/sessions.js';
import type { Sessions } from '../charging/sessions.js';
import type { Directory } from '../charging/directory.js';
import type { History } from '../storage/history.js';
import { historyRoutes } from './routes/history.js';
import { cdrJobRoutes } from './routes/cdr-jobs.js';
import type { CdrJobs } from '../cdr/jobs.js';
import { healthRoutes, type Pingable } from './routes/health.js';
import { ratingRoutes } from './routes/rating.js';
import { tariffRoutes } from './routes/tariff.js';
import { billingRunRoutes } from './routes/billing-runs.js';
import type { PlansDeps } from '../billing/plans/db.js';
import { planRoutes } from './routes/plans.js';
import { billingProfileRoutes } from './routes/billing-profiles.js';
import { billingCatalogRoutes } from './routes/billing-catalog.js';
import type { RunDeps } from '../billing/run/run.js';
import { invoiceRoutes } from './routes/invoices.js';
import { creditNoteRoutes } from './routes/credit-notes.js';
import { invoiceSeriesRoutes } from './routes/invoice-series.js';
import type { DocumentRouteDeps } from './routes/document-service.js';
import { webhookRoutes } from './routes/webhooks.js';
import { accountEventRoutes } from './routes/account-events.js';
import type { WebhookDeps } from '../webhooks/deps.js';
import type { PaymentDeps } from '../payments/deps.js';
import { paymentRoutes } from './routes/payments.js';
import type { VoucherDeps } from '../vouchers/deps.js';
import { voucherRoutes } from './routes/vouchers.js';
import { usageRoutes, type UsageDeps } from './routes/usage.js';
import { selfcarePageRoutes } from './routes/selfcare-page.js';
import { statementRoutes, type StatementRouteDeps } from '../billing/statements/routes.js';
import { reconcileRoutes } from '../billing/reconcile/routes.js';
import { notificationRoutes, type NotificationDeps } from './routes/notifications.js';
import { cgratesRoutes, type CgratesApiOptions } from '../cgrates-api/route.js';

declare module 'fastify' {
  interface FastifyInstance {
    chargingMetrics: ChargingMetrics;
  }
}

export interface AppDeps {
  apiKeys: ApiKey[];
  /** Requests in flight beyond this are answered 503 OVERLOADED at once. */
  maxInFlight: number;
  tariff: ActiveTariff;
  balances: BalanceStore;
  sessions: Sessions;
  /** Who subscribers are (shared with the sessions). */
  directory: Directory;
  /** Where rated records and the charging trail are read back (optional). */
  history?: History;
  /** CDR file jobs over HTTP (optional). */
  cdrJobs?: { jobs: CdrJobs; uploadDir: string; maxUploadBytes?: number };
  /** Invoices, credit notes, series and the accounting export (billing, optional). */
  documents?: DocumentRouteDeps;
  /** Billing runs, unparking and invoice previews (billing, optional). */
  billingRuns?: RunDeps;
  /** Plans, assignments, billing profiles, taxes and coupons (billing, optional). */
  plans?: PlansDeps;
  /** Webhook endpoints and the account events pull API (billing, optional). */
  webhooks?: WebhookDeps;
  /** Payments recorded and refunded (billing, optional). */
  payments?: PaymentDeps;
  /** Voucher batches and redemption (billing, optional; src/vouchers/). */
  vouchers?: VoucherDeps;
  /** Usage views from the daily rollup (optional; src/usage/). */
  usage?: UsageDeps;
  /** Prepaid statements and the reconciliation report, read from the ledger (billing, optional). */
  ledgerReports?: StatementRouteDeps;
  /** Notification rules, auto top-up and dunning settings (billing, optional; src/notifications/). */
  notifications?: NotificationDeps;
  /** CGRateS's JSON-RPC API at POST /jsonrpc (off unless set; src/cgrates-api/). */
  cgrates?: CgratesApiOptions;
  health: { redis: Pingable; postgres?: Pingable };
  /** Past these, a request is answered 503 UNAVAILABLE (src/http/deadline.ts); none if unset. */
  deadlines?: Deadlines;
  logger?: FastifyServerOptions['logger'];
}

/** Well past the longest id any schema takes (256), so the schema, not the router, refuses. */
const MAX_PATH_PARAM_CHARS = 1024;

function limitInFlight(app: FastifyInstance, max: number): void {
  let inFlight = 0;
  const counted = new WeakSet<object>();
  app.addHook('onRequest', async (req) => {
    if (inFlight >= max) throw new AppError('OVERLOADED');
    inFlight++;
    counted.add(req);
  });
  app.addHook('onResponse', async (req) => {
    if (counted.delete(req)) inFlight--;
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // verbose: a range violation can name the schema's bounds (errors.ts).
    ajv: { customOptions: { removeAdditional: false, allErrors: true, verbose: true } },
    requestIdHeader: 'x-request-id',
    bodyLimit: JSON_BODY_LIMIT_BYTES,
    // Session-Ids (RFC 6733) run long: the schemas refuse a path parameter past its documented length
    // with a named field; the router's own refusal is only for the absurd.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_CHARS },
    // A bad percent-escape or an over-long parameter is refused by the router before any route runs.
    frameworkErrors: (err, req, reply) => {
      void errorHandler(err, req, reply);
    },
    // And HTTP that Node itself cannot parse, before fastify sees a request.
    clientErrorHandler,
  });
  app.setErrorHandler(errorHandler);
  registerRouteTable(app);
  registerJsonBody(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'OCS engine',
        version: '0.1.0',
        description:
          'Rating, balances and provisioning. Authenticate with `Authorization: Bearer <API key>`.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  limitInFlight(app, deps.maxInFlight);
  if (deps.deadlines) registerDeadlines(app, deps.deadlines); // before the routes it wraps
  registerAuth(app, deps.apiKeys);
  const metrics = chargingMetrics(registerMetrics(app));
  app.decorate('chargingMetrics', metrics);
  healthRoutes(app, deps.health);
  ratingRoutes(app, deps.tariff);
  tariffRoutes(app, deps.tariff);
  accountRoutes(app, deps.balances);
  eventRoutes(app, { ...deps, metrics });
  sessionRoutes(app, deps.sessions, metrics);
  if (deps.history) historyRoutes(app, deps.history);
  if (deps.usage) usageRoutes(app, deps.usage);
  selfcarePageRoutes(app);
  if (deps.cgrates) {
    const { apiKeys, balances, tariff, sessions, directory } = deps;
    cgratesRoutes(app, { ...deps.cgrates, apiKeys, balances, tariff, sessions, directory });
  }
  if (deps.cdrJobs) cdrJobRoutes(app, deps.cdrJobs);
  if (deps.billingRuns) billingRunRoutes(app, deps.billingRuns);
  if (deps.webhooks) {
    webhookRoutes(app, deps.webhooks);
    accountEventRoutes(app, deps.webhooks);
  }
  if (deps.payments) paymentRoutes(app, deps.payments);
  if (deps.ledgerReports) {
    statementRoutes(app, deps.ledgerReports);
    reconcileRoutes(app, deps.ledgerReports);
  }
  if (deps.vouchers) voucherRoutes(app, deps.vouchers);
  if (deps.notifications) notificationRoutes(app, deps.notifications);
  if (deps.plans) {
    planRoutes(app, deps.plans);
    billingProfileRoutes(app, deps.plans);
    billingCatalogRoutes(app, deps.plans);
  }
  if (deps.documents) {
    invoiceRoutes(app, deps.documents);
    creditNoteRoutes(app, deps.documents);
    invoiceSeriesRoutes(app, deps.documents);
  }
  return app;
}
