/**
 * API keys: `Authorization: Bearer <key>`. Each key carries a role (network, billing, selfcare, operator),
 * a tenant, and for selfcare the one account it may read. Keys are kept as SHA-256 digests and
 * compared in constant time. Routes say which roles may call them (`config.roles`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKey, Role } from '../config.js';
import { AppError } from './errors.js';

export interface Principal {
  role: Role;
  tenant: string;
  accountId?: string;
  name?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Roles allowed to call the route; absent = public (health, metrics, docs). */
    roles?: Role[];
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function registerAuth(app: FastifyInstance, keys: ApiKey[]): void {
  const table = keys.map((k) => ({
    hash: digest(k.key),
    principal: { role: k.role, tenant: k.tenant, accountId: k.accountId, name: k.name } as Principal,
  }));
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config?.roles;
    if (!roles) return;
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token) throw new AppError('UNAUTHENTICATED');
    const h = digest(token);
    const found = table.find((k) => timingSafeEqual(k.hash, h));
    if (!found) throw new AppError('UNAUTHENTICATED', 'unknown API key');
    if (!roles.includes(found.principal.role))
      throw new AppError('FORBIDDEN', `role ${found.principal.role} may not call this route`);
    req.principal = found.principal;
  });
}

/** A self-care caller reads only its own account; staff and network read any of their tenant. */
export function assertOwnAccount(req: FastifyRequest, accountId: string): void {
  const p = req.principal;
  if (p.role === 'selfcare' && p.accountId !== accountId)
    throw new AppError('FORBIDDEN', 'a customer reads only their own account');
}
