/**
 * Every API request has a deadline: not answered by then (Redis or PostgreSQL slow or away), it is
 * answered 503 UNAVAILABLE with Retry-After, never left hanging. Charging and pricing have a short
 * one (a network element waits for its answer); provisioning and reads a longer one; a CDR upload
 * (as long as its body takes), health and docs none.
 *
 * The work goes on after the deadline: it is never cut in the middle. A charging step either ran
 * whole or not at all, and a retry with the same id replays its answer or applies it once.
 */
import {
  errorCodes,
  type FastifyInstance,
  type FastifyReply,
  type onRequestHookHandler,
  type onResponseHookHandler,
  type RouteOptions,
} from 'fastify';
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
  if (url === '/jsonrpc') return d.provisioningMs; // CGRateS's API (src/cgrates-api/): mostly provisioning
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
 * Requests whose deadlines are all the same length, oldest first: one timer serves them all, armed
 * for the oldest one still in flight. fastify's own `handlerTimeout` gave each request an
 * AbortController, a timer and a 'close' listener, and aborted the controller when the request
 * closed, building a DOMException with its stack for every request answered in time (~3 % of the
 * engine's CPU at 4 connections, bench/RESULTS.md 2026-12-07). Here a request in time costs one
 * small entry, dropped when it is answered.
 */
class DeadlineQueue {
  private readonly pending: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly expire: (p: Pending) => void,
  ) {}

  add(reply: FastifyReply, url: string, elapsedMs: number): Pending {
    const p = { reply: reply as FastifyReply | null, due: performance.now() - elapsedMs + this.ms, url };
    this.pending.push(p);
    this.timer ??= this.arm();
    return p;
  }

  /** Answered: the entry lets go of its reply, and answered entries leave the front of the queue. */
  settle(p: Pending): void {
    p.reply = null;
    this.dropSettled();
  }

  private dropSettled(): void {
    const q = this.pending;
    while (this.head < q.length && q[this.head]!.reply === null) this.head++;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }

  private arm(): NodeJS.Timeout | undefined {
    const oldest = this.pending[this.head];
    if (!oldest) return undefined;
    // Unref'd: a timer left for requests already answered must not keep a stopping engine alive.
    return setTimeout(() => this.fire(), Math.max(0, oldest.due - performance.now())).unref();
  }

  private fire(): void {
    const now = performance.now();
    const q = this.pending;
    // Arrival order is deadline order (one length), give or take the microseconds between hooks.
    while (this.head < q.length && q[this.head]!.due <= now + 1) {
      const p = q[this.head++]!;
      if (p.reply !== null) this.expire(p);
      p.reply = null;
    }
    this.dropSettled();
    this.timer = this.arm();
  }
}

interface Pending {
  /** Null once answered. */
  reply: FastifyReply | null;
  /** When it is due, on performance.now()'s clock. */
  due: number;
  url: string;
}

/**
 * A request answered at its deadline whose work fails later (the runs thread still booting when
 * PostgreSQL went away, say): the caller already has its 503 and retries, so that failure is a
 * warning, not fastify's error-level "Promise errored, but reply.sent = true was set". Only the late
 * reply's logger changes, at the deadline: nothing is added to a request answered in time.
 */
function warnWhenLate(reply: FastifyReply): void {
  const log = reply.log;
  reply.log = Object.create(log, {
    error: {
      value: (obj: unknown) => log.warn(obj, 'the request failed after its deadline was answered'),
    },
  }) as FastifyReply['log'];
}

/**
 * Past its deadline and not answered: 503 UNAVAILABLE, as fastify's handlerTimeout answers; but a
 * request whose body has not all arrived is the client's delay, not Redis's or PostgreSQL's: 408
 * REQUEST_TIMEOUT, and the connection closes (the rest of its body is never read).
 */
function answerLate(ms: number, p: Pending): void {
  const reply = p.reply!;
  if (reply.sent) return;
  if (reply.request.raw.complete === false && !reply.raw.headersSent) {
    void reply
      .header('connection', 'close')
      .send(new AppError('REQUEST_TIMEOUT', `the request body did not all arrive within ${ms} ms`));
    return;
  }
  warnWhenLate(reply);
  const err = new errorCodes.FST_ERR_HANDLER_TIMEOUT(ms, p.url);
  // Already writing its answer (a stream): nothing else can be said on this connection.
  if (reply.raw.headersSent) reply.raw.destroy(err);
  else void reply.send(err);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's place in its deadline queue (src/http/deadline.ts), if its route has one. */
    deadline: Pending | null;
  }
}

/**
 * Gives each route its deadline, counted from the request's arrival (time queued, parsed and
 * authenticated counts): a request past it is answered at once, and its handler, if it has not
 * started yet, never starts (changing nothing). The timeout error is fastify's own
 * FST_ERR_HANDLER_TIMEOUT, known as "not answering" (src/infra/unavailable.ts), which the error
 * handler answers 503 UNAVAILABLE. A route that sets its own `handlerTimeout` keeps fastify's.
 */
export function registerDeadlines(app: FastifyInstance, d: Deadlines): void {
  const queues = new Map<number, DeadlineQueue>();
  const queueFor = (ms: number) => {
    let q = queues.get(ms);
    if (!q) queues.set(ms, (q = new DeadlineQueue(ms, (p) => answerLate(ms, p))));
    return q;
  };
  app.decorateRequest('deadline', null);
  app.addHook('onRoute', (route) => {
    const ms = deadlineOf(route, d);
    if (ms === null || route.handlerTimeout !== undefined) return;
    const queue = queueFor(ms);
    const url = route.url;
    const start: onRequestHookHandler = (req, reply, done) => {
      // The hooks before this one (other plugins, authentication) count: arrival is the clock.
      const elapsed = reply.elapsedTime;
      if (elapsed >= ms) return done(new errorCodes.FST_ERR_HANDLER_TIMEOUT(ms, url));
      req.deadline = queue.add(reply, url, elapsed);
      done();
    };
    const settle: onResponseHookHandler = (req, _reply, done) => {
      if (req.deadline) queue.settle(req.deadline);
      req.deadline = null;
      done();
    };
    route.onRequest = [start, ...asList(route.onRequest)];
    route.onResponse = [settle, ...asList(route.onResponse)];
  });
}

function asList<T>(hooks: T | T[] | undefined): T[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}
