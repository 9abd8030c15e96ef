/** Liveness (the process answers) and readiness (Redis and PostgreSQL answer). */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export interface Pingable {
  ping(): Promise<unknown>;
}

export function healthRoutes(app: FastifyInstance, deps: { redis: Pingable; postgres?: Pingable }): void {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async () => {
    const checks: Record<string, string> = {};
    for (const [name, dep] of Object.entries(deps)) {
      if (!dep) continue;
      try {
        await Promise.race([
          dep.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000)),
        ]);
        checks[name] = 'ok';
      } catch (err) {
        throw new AppError('NOT_READY', `${name}: ${(err as Error).message}`);
      }
    }
    return { status: 'ready', checks };
  });
}
