/** Child process for the crash test: debits a batch, printing each op id once it is acknowledged. */
import { createBalanceStore } from '../../src/balances/store.js';
import { redisFromEnv } from '../support/redis.js';

const [prefix, count] = [process.env.CRASH_PREFIX!, Number(process.env.CRASH_COUNT)];
const redis = redisFromEnv(); // REDIS_URL, or REDIS_CLUSTER_NODES on a Cluster
const store = createBalanceStore({ redis, keyPrefix: prefix });
for (let i = 0; i < count; i++) {
  // Several in flight at once, as a real batch client would send them.
  await Promise.all(
    [0, 1, 2, 3].map((k) =>
      store.debit('t', 'c', { opId: `batch-${i * 4 + k}`, charge: { unit: 'sms', units: 1, amountNano: 7 } }),
    ),
  );
  process.stdout.write(`${i}\n`);
}
await redis.quit();
