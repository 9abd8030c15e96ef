/** Sample accounts for the local demo (tenant acme), created once: running it again changes nothing. */
import type { BalanceStore } from './balances/store.js';

export async function seedDemoAccounts(store: BalanceStore): Promise<void> {
  const day = 86_400_000;
  await store.createAccount(
    {
      tenant: 'acme',
      id: 'alice',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'alice',
      subscriptions: [{ type: 'msisdn', value: '447700900001' }],
    },
    'seed',
  );
  await store.addBalance('acme', 'alice', { id: 'main', unit: 'money', value: 10_000_000_000 }, 'seed-main');
  await store.addBalance(
    'acme',
    'alice',
    {
      id: 'uk-minutes',
      unit: 'voice',
      value: 100 * 60 * 1e9,
      weight: 10,
      destinations: ['UK_FIXED', 'UK_MOBILE'],
      expiryMs: Date.UTC(2027, 0, 1) + 30 * day,
    },
    'seed-minutes',
  );
  await store.addBalance(
    'acme',
    'alice',
    { id: 'data-1gb', unit: 'data', value: 1024 ** 3, weight: 10 },
    'seed-data',
  );
  await store.createAccount(
    {
      tenant: 'acme',
      id: 'bob',
      type: 'postpaid',
      currency: 'GBP',
      subject: 'premium-plan',
      creditLimitNano: 50_000_000_000,
      subscriptions: [{ type: 'msisdn', value: '447700900002' }],
    },
    'seed',
  );
  await store.addBalance('acme', 'bob', { id: 'main', unit: 'money', value: 0 }, 'seed-main');
}
