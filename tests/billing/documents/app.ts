/** The HTTP app with the document routes, on the test's PostgreSQL schema, and keys of two tenants. */
import { DEMO_KEYS, type ApiKey } from '../../../src/config.js';
import type { DocumentRouteDeps } from '../../../src/http/routes/document-service.js';
import { testApp } from '../../support/app.js';
import { testRedis } from '../../support/redis.js';

export const KEYS: ApiKey[] = [
  ...DEMO_KEYS,
  { key: 'bob-selfcare', role: 'selfcare', tenant: 'acme', accountId: 'bob', name: 'customer bob' },
  { key: 'globex-billing', role: 'billing', tenant: 'globex', name: 'another tenant' },
  { key: 'globex-alice', role: 'selfcare', tenant: 'globex', accountId: 'alice', name: "globex's alice" },
];

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });
export const BILLING = auth('demo-billing');

export async function documentsApp(deps: DocumentRouteDeps) {
  const { redis, prefix } = testRedis();
  return (await testApp({ redis, prefix, keys: KEYS, documents: deps })).app;
}
