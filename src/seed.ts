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
  // The other subscribers of the sample CDR day (cdr-samples/), prepaid with £20 each.
  for (let i = 3; i <= 50; i++) {
    const id = `sub${String(i).padStart(3, '0')}`;
    await store.createAccount(
      {
        tenant: 'acme',
        id,
        type: 'prepaid',
        currency: 'GBP',
        subject: id,
        subscriptions: [{ type: 'msisdn', value: `4477009${String(i).padStart(5, '0')}` }],
      },
      'seed',
    );
    await store.addBalance('acme', id, { id: 'main', unit: 'money', value: 20_000_000_000 }, 'seed-main');
  }
}
