/**
 * Every API request has a deadline: not answered by then (Redis or PostgreSQL slow or away), it is
 * answered 503 UNAVAILABLE with Retry-After, never left hanging. Charging and pricing have a short
 * one (a network element waits for its answer); provisioning and reads a longer one; a CDR upload
 * (as long as its body takes), health and docs none.
 *
 * The work goes on after the deadline: it is never cut in the middle. A charging step either ran
 * whole or not at all, and a retry with the same id replays its answer or applies it once.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

export interface Deadlines {
  /** Charging events and sessions, pricing. */
  chargingMs: number;
  /** Every other /v1 route but the CDR upload. */
  provisioningMs: number;
}

/** The deadline of a route, or none. */
export function deadlineOf(route: Pick<RouteOptions, 'url' | 'method'>, d: Deadlines): number | null {
  const { url } = route;
  if (!url.startsWith('/v1/')) return null; // health (its own 1 s checks), metrics, docs
  if (url === '/v1/cdr/jobs' && route.method === 'POST') return null; // an upload takes its time
  if (
    route.method === 'POST' &&
    (url.startsWith('/v1/events/') || url.startsWith('/v1/sessions/') || url.startsWith('/v1/rating/'))
  )
    return d.chargingMs;
  return d.provisioningMs;
}

/**
 * Gives each route its deadline as fastify's `handlerTimeout`: counted from the request's arrival
 * (time queued, parsed and authenticated counts), a request past it is answered at once and its
 * handler, if it has not started yet, never starts (changing nothing). The timeout error is known
 * as "not answering" (src/infra/unavailable.ts), which the error handler answers 503 UNAVAILABLE.
 */
export function registerDeadlines(app: FastifyInstance, d: Deadlines): void {
  app.addHook('onRoute', (route) => {
    const ms = deadlineOf(route, d);
    if (ms !== null) route.handlerTimeout ??= ms;
  });
}
