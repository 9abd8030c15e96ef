/** The HTTP app wired as main.ts wires it, on the test's Redis and key prefix. */
import type { Redis } from 'ioredis';
import { createBalanceStore } from '../../src/balances/store.js';
import { createSessions } from '../../src/charging/sessions.js';
import { DEMO_KEYS, type ApiKey } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openActiveTariff } from '../../src/tariffs/active.js';

export async function testApp(opts: {
  redis: Redis;
  prefix: string;
  tariffDir?: string;
  keys?: ApiKey[];
  now?: () => number;
}) {
  const now = opts.now ?? Date.now;
  const balances = createBalanceStore({ redis: opts.redis, keyPrefix: opts.prefix, now });
  const tariff = await openActiveTariff(opts.tariffDir ?? 'tariffs/sample');
  const sessions = createSessions({
    redis: opts.redis,
    keyPrefix: opts.prefix,
    balances,
    tariff: () => tariff.current(),
    now,
  });
  const app = await buildApp({
    apiKeys: opts.keys ?? DEMO_KEYS,
    maxInFlight: 100,
    tariff,
    balances,
    sessions,
    health: { redis: opts.redis },
  });
  return { app, balances, tariff, sessions };
}
