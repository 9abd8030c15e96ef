/**
 * The charging probe of `bench:invoices`: one debit at a time, one every 10 ms at most (~100/s), on
 * PROBES accounts of the tenant `probe` (no billing profile: never billed). Run in the run's process
 * (its event loop is the engine's when the scheduler runs the billing run) and, as this file's main,
 * in a process of its own (only Redis and the CPU shared): it debits until a line on stdin, then
 * prints its latencies in ms as JSON.
 *
 *   node --import tsx bench/invoices-probe.ts <key prefix>
 */
import { Redis } from 'ioredis';
import { createBalanceStore, type BalanceStore } from '../src/balances/store.js';

export const PROBES = 10;

/** The probe's accounts (created once, by the bench). */
export async function probeAccounts(balances: BalanceStore): Promise<void> {
  for (let i = 0; i < PROBES; i++) {
    const p = { tenant: 'probe', id: `p${i}`, type: 'postpaid' as const, currency: 'GBP', subject: `p${i}` };
    await balances.createAccount({ ...p, subscriptions: [], creditLimitNano: 1e15 }, 'c');
    await balances.addBalance('probe', `p${i}`, { id: 'main', unit: 'money', value: 0 }, 'b');
  }
}

/** Debits until stopped; `tag` keeps the operation ids of two probes apart. */
export function chargingProbe(balances: BalanceStore, tag: string): { stop: () => Promise<number[]> } {
  const ms: number[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const t = performance.now();
      await balances.debit('probe', `p${n % PROBES}`, {
        opId: `probe-${tag}-${n}`,
        charge: { unit: 'generic', units: 0, amountNano: 1_000_000 },
      });
      const took = performance.now() - t;
      ms.push(took);
      if (took < 10) await new Promise((r) => setTimeout(r, 10 - took));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return ms;
    },
  };
}

if (process.argv[1]?.endsWith('invoices-probe.ts')) {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
  const balances = createBalanceStore({ redis, keyPrefix: process.argv[2]! });
  const probe = chargingProbe(balances, `child-${process.pid}-${Date.now()}`);
  process.stdin.once('data', () => {
    void probe.stop().then((ms) => {
      process.stdout.write(`${JSON.stringify(ms)}\n`);
      redis.disconnect();
    });
  });
}
