/**
 * What the engine runs for webhooks: the sealing key, the routes' dependencies and the background
 * deliverer (every 250 ms; backed off while PostgreSQL is away, src/infra/periodic.ts).
 */
import type { Pool } from 'pg';
import type { Config } from '../config.js';
import { runEvery, type PeriodicLog } from '../infra/periodic.js';
import { createDeliverer } from './deliverer.js';
import type { WebhookDeps } from './deps.js';
import { secretBox } from './secret-box.js';
import { loadWebhookKey } from './secret-key.js';
import { createSender } from './send.js';

export interface WebhookEngine {
  deps: WebhookDeps;
  /** Starts delivering (after the app is built: the log is the app's). */
  start(log: PeriodicLog): void;
  stop(): Promise<void>;
}

export function webhookEngine(
  pool: Pool,
  schema: string,
  config: Pick<Config, 'webhooks' | 'dataDir'>,
): WebhookEngine {
  const w = config.webhooks;
  const box = secretBox(loadWebhookKey(w.secretKey, config.dataDir));
  const policy = { allowHttp: w.allowHttp, allowPrivate: w.allowPrivate };
  const sender = createSender(policy, w.timeoutMs);
  const deliverer = createDeliverer({ pool, schema, box, sender, leaseMs: w.timeoutMs + 30_000 });
  let stopJob: () => Promise<void> = async () => {};
  return {
    deps: { pool, schema, box, policy },
    start(log) {
      stopJob = runEvery({ name: 'webhook delivery', everyMs: 250, job: () => deliverer.runOnce(), log });
    },
    async stop() {
      await stopJob();
      sender.close();
    },
  };
}
