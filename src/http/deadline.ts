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
import { AppError } from './errors.js';

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

type Handler = RouteOptions['handler'];

/**
 * Wraps each route's handler: the time the request already spent (queued, parsed, authenticated)
 * counts, and a request already past its deadline is refused before it starts (changing nothing).
 */
export function registerDeadlines(app: FastifyInstance, d: Deadlines): void {
  app.addHook('onRoute', (route) => {
    const ms = deadlineOf(route, d);
    if (ms === null) return;
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      const left = ms - reply.elapsedTime;
      if (left <= 0) throw late(ms);
      const work = Promise.resolve().then(() => handler.call(this, req, reply));
      return raceDeadline(work, left, ms, (err) =>
        req.log.warn({ err }, 'a request answered at its deadline failed later'),
      );
    } as Handler;
  });
}

function late(ms: number): AppError {
  return new AppError('UNAVAILABLE', `not answered within the ${ms} ms deadline: retry with the same id`);
}

/** The work's outcome, or UNAVAILABLE after `leftMs`; the work's later failure is only logged. */
function raceDeadline<T>(
  work: Promise<T>,
  leftMs: number,
  ms: number,
  onLateError: (err: unknown) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(late(ms));
    }, leftMs);
  });
  work.catch((err: unknown) => {
    if (expired) onLateError(err);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
