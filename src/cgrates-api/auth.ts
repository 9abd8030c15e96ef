/**
 * Who calls /jsonrpc: the engine's API keys, as `Authorization: Bearer <key>`, an `X-API-Key`
 * header, or basic auth with the key as the password (CGRateS clients configure a URL with
 * user:password). Keys are compared as SHA-256 digests in constant time, like src/http/auth.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiKey } from '../config.js';
import type { Principal } from '../http/auth.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

function tokenOf(h: IncomingHttpHeaders): string {
  const auth = h.authorization ?? '';
  if (auth.startsWith('Bearer ')) return auth.slice(7).trim();
  if (auth.startsWith('Basic ')) {
    const pair = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    return colon < 0 ? '' : pair.slice(colon + 1);
  }
  const key = h['x-api-key'];
  return typeof key === 'string' ? key.trim() : '';
}

/** A lookup from request headers to the key's principal (undefined: no or unknown key). */
export function keyTable(keys: ApiKey[]) {
  const table = keys.map((k) => ({
    hash: digest(k.key),
    principal: { role: k.role, tenant: k.tenant, accountId: k.accountId, name: k.name } as Principal,
  }));
  return (headers: IncomingHttpHeaders): Principal | undefined => {
    const token = tokenOf(headers);
    if (!token) return undefined;
    const h = digest(token);
    return table.find((k) => timingSafeEqual(k.hash, h))?.principal;
  };
}
