/**
 * Every route the app registers, kept as it is registered (so the fuzz test reaches new routes by
 * itself), and what a request that matches none gets: 405 with `Allow` when the path exists under
 * other methods (RFC 9110 §15.5.6), otherwise 404, both as problem+json.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, errorHandler } from './errors.js';

export interface RouteEntry {
  method: string;
  url: string;
  /** Who may call it (auth.ts); absent = public. */
  roles?: readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every method and path registered, in order (swagger's and HEAD routes included). */
    routeTable: readonly RouteEntry[];
  }
}

/** A path pattern as a regular expression over the raw path: `:param` is one segment, `*` the rest. */
function matcherOf(url: string): RegExp {
  const escaped = url.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}$`);
}

/** Call before any route is registered: routes registered earlier are not seen. */
export function registerRouteTable(app: FastifyInstance): void {
  const routes: (RouteEntry & { matcher: RegExp })[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (r) => {
    const roles = (r.config as { roles?: string[] } | undefined)?.roles;
    for (const method of [r.method].flat())
      routes.push({ method, url: r.url, matcher: matcherOf(r.url), ...(roles ? { roles } : {}) });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?', 1)[0]!;
    const allowed = [...new Set(routes.filter((r) => r.matcher.test(path)).map((r) => r.method))];
    if (allowed.length === 0) return errorHandler(new AppError('NOT_FOUND'), req, reply);
    reply.header('Allow', allowed.join(', '));
    return errorHandler(
      new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here: ${allowed.join(', ')}`),
      req,
      reply,
    );
  });
}
