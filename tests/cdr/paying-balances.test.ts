/**
 * CDR files charge balances by the same rule as the charging API (docs/BALANCES.md): a national
 * bundle pays for a call whose rate destination is narrower; generic units pay before money.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { importCdrFile } from '../../src/cdr/pipeline.js';
import { createRatingPool } from '../../src/cdr/pool.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { testPostgres } from '../support/postgres.js';
import { testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
let dir: string;
let rating: ReturnType<typeof createRatingPool>;
const S = 1e9;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cdr-paying-'));
  await cp('tariffs/sample', dir, { recursive: true });
  const tariff = join(dir, 'tariff.json');
  const plan = JSON.parse(await readFile(tariff, 'utf8')) as { destinations: object[] };
  plan.destinations.push({ id: 'UK', prefixes: ['+44'] });
  await writeFile(tariff, JSON.stringify(plan));
  rating = createRatingPool({ tariffDir: dir, threads: 1 });
  await ensureCdrSchema(pool, schema);
  await balances.createAccount(
    {
      tenant: 'acme',
      id: 'n1',
      type: 'prepaid',
      currency: 'GBP',
      subject: 'n1',
      subscriptions: [{ type: 'msisdn', value: '447700100001' }],
    },
    'open',
  );
  await balances.addBalance('acme', 'n1', { id: 'main', unit: 'money', value: 5 * S }, 'main');
  await balances.addBalance(
    'acme',
    'n1',
    { id: 'uk-mins', unit: 'voice', value: 600 * S, destinations: ['UK'] },
    'mins',
  );
});
afterAll(async () => {
  await rating.close();
  await rm(dir, { recursive: true, force: true });
});

describe('CDR charging', () => {
  it('a national bundle pays for a CDR rated by a narrower destination (UK_MOBILE)', async () => {
    const file = join(dir, 'calls.csv');
    await writeFile(
      file,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n' +
        'n1-1,acme,447700100001,call,voice,+447911123456,2026-11-20T10:00:00Z,90\n',
    );
    await importCdrFile({ balances, pool, schema, rating }, file, { fileId: 'calls' });
    const values = Object.fromEntries(
      (await balances.getAccount('acme', 'n1'))!.balances.map((b) => [b.id, b.value]),
    );
    expect(values).toEqual({ main: 5 * S, 'uk-mins': 510 * S });
  });
  it('generic units pay for a CDR before money, as they do for a charging event', async () => {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: 'g1',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'g1',
        subscriptions: [{ type: 'msisdn', value: '447700100002' }],
      },
      'open-g1',
    );
    await balances.addBalance('acme', 'g1', { id: 'main', unit: 'money', value: 5 * S }, 'main-g1');
    await balances.addBalance('acme', 'g1', { id: 'any', unit: 'generic', value: 600 * S }, 'any-g1');
    const file = join(dir, 'generic.csv');
    await writeFile(
      file,
      'cdr_id,tenant,subscriber,category,service,destination,start_time,usage\n' +
        'g1-1,acme,447700100002,call,voice,+447911123456,2026-11-20T10:00:00Z,90\n',
    );
    await importCdrFile({ balances, pool, schema, rating }, file, { fileId: 'generic' });
    const values = Object.fromEntries(
      (await balances.getAccount('acme', 'g1'))!.balances.map((b) => [b.id, b.value]),
    );
    expect(values).toEqual({ main: 5 * S, any: 510 * S });
  });
});
