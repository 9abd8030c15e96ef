/**
 * Liveness (the process answers) and readiness (Redis and PostgreSQL answer within a second). Both
 * clients fail fast while their server is away, so readiness and the API say 503 at the same time.
 * What "Redis answers" means is the caller's: on a Cluster, every slot served by a master that
 * answers (infra/redis.ts checkRedisReady).
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export interface Pingable {
  ping(): Promise<unknown>;
}

const PING_TIMEOUT_MS = 1000;

/** The ping's outcome, or a timeout after PING_TIMEOUT_MS. */
async function pingWithin(dep: Pingable): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      dep.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: FastifyInstance, deps: { redis: Pingable; postgres?: Pingable }): void {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async () => {
    const checks: Record<string, string> = {};
    for (const [name, dep] of Object.entries(deps)) {
      if (!dep) continue;
      try {
        await pingWithin(dep);
        checks[name] = 'ok';
      } catch (err) {
        throw new AppError('NOT_READY', `${name}: ${(err as Error).message}`);
      }
    }
    return { status: 'ready', checks };
  });
}
