/**
 * APIerSv1.LoadTariffPlanFromFolder on the engine's tariff reload: a CGRateS CSV folder under the
 * configured root is loaded whole (or, DryRun, only checked); a bad folder changes nothing; any path
 * outside the root (by '..', absolute, or a symbolic link) is INVALID_PATH like a missing one; only
 * the operator loads the tariff every tenant is rated with.
 */
import { cp, mkdtemp, rm, symlink, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { testRedis } from '../support/redis.js';
import { rpcClient } from './rpc.js';

const { redis, prefix } = testRedis();
let app: FastifyInstance;
let rpc: ReturnType<typeof rpcClient>;
let root = '';
let outside = '';
const OP = 'demo-operator';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cgr-tariffs-'));
  outside = await mkdtemp(join(tmpdir(), 'cgr-outside-'));
  await cp('tariffs/sample-cgrates', join(root, 'good'), { recursive: true });
  await cp('tariffs/sample-cgrates', join(root, 'bad'), { recursive: true });
  await appendFile(join(root, 'bad', 'Rates.csv'), 'RT_BROKEN,zero,not-a-rate,1s,1s,0s\n');
  await cp('tariffs/sample-cgrates', join(outside, 'plan'), { recursive: true });
  await symlink(join(outside, 'plan'), join(root, 'link-out'));
  await writeFile(join(root, 'a-file'), 'not a folder');
  ({ app } = await testApp({ redis, prefix, cgrates: { currency: 'GBP', tariffRoot: root } }));
  rpc = rpcClient(app);
});
afterAll(async () => {
  await app.close();
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

async function tariff(): Promise<{ version: number; format: string; dir: string }> {
  const r = await app.inject({
    method: 'GET',
    url: '/v1/tariff',
    headers: { authorization: `Bearer ${OP}` },
  });
  return r.json();
}

const load = (arg: object, key = OP) => rpc(key, 'APIerSv1.LoadTariffPlanFromFolder', arg);

describe('APIerSv1.LoadTariffPlanFromFolder', () => {
  it('DryRun checks a good folder and changes nothing; a load puts it in force', async () => {
    const before = await tariff();
    expect((await load({ FolderPath: join(root, 'good'), DryRun: true })).result).toBe('OK');
    expect(await tariff()).toEqual(before);
    const r = await load({ FolderPath: join(root, 'good'), Validate: true, Caching: '*reload' });
    expect(r.error, r.raw).toBeNull();
    expect(r.result).toBe('OK');
    const after = await tariff();
    expect(after).toMatchObject({ version: before.version + 1, format: 'cgrates-csv' });
    // A relative path is under the root.
    expect((await load({ FolderPath: 'good' })).result).toBe('OK');
    expect((await tariff()).version).toBe(before.version + 2);
  });

  it('a bad folder is refused whole (DryRun too), naming its problems; the tariff stays', async () => {
    const before = await tariff();
    for (const DryRun of [true, false]) {
      const r = await load({ FolderPath: join(root, 'bad'), DryRun });
      expect(r.result).toBeNull();
      expect(r.error).toMatch(
        /^UNSUPPORTED_FORMAT: tariff plan, \d+ problem\(s\), nothing loaded: .*Rates\.csv/,
      );
      expect(r.error).not.toContain(root);
    }
    expect(await tariff()).toEqual(before);
  });

  it.each([
    ['a parent path', () => join(root, '..')],
    ['dot-dots inside the path', () => join(root, 'good', '..', '..', 'x')],
    ['an absolute path elsewhere', () => '/etc'],
    ['a relative path out', () => '../../../../etc'],
    ['a symbolic link out of the root', () => join(root, 'link-out')],
    ['a folder that does not exist', () => join(root, 'none')],
    ['a file', () => join(root, 'a-file')],
  ])('%s is INVALID_PATH, nothing loaded', async (_name, path) => {
    const before = await tariff();
    const r = await load({ FolderPath: path() });
    expect(r).toMatchObject({ result: null, error: 'INVALID_PATH' });
    expect(await tariff()).toEqual(before);
  });

  it('CGRateS errors for a missing or mistyped field; only the operator may load', async () => {
    expect((await load({})).error).toBe('MANDATORY_IE_MISSING:FolderPath');
    expect((await load({ FolderPath: 'good', DryRun: 'yes' })).error).toBe(
      'json: cannot unmarshal string into Go struct field AttrLoadTpFromFolder.DryRun of type bool',
    );
    for (const key of ['demo-billing', 'demo-network', 'demo-selfcare-alice'])
      expect((await load({ FolderPath: 'good' }, key)).error).toBe('UNAUTHORIZED_API');
  });

  it('no path at all loads from outside the root, nor fails the engine', { timeout: 60_000 }, async () => {
    const part = fc.oneof(
      fc.constantFrom('..', '.', '', 'good', 'bad', 'link-out', 'a-file', '/etc', '\u0000', '%2e%2e', '~'),
      fc.string({ maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (parts, DryRun) => {
          const r = await load({ FolderPath: parts.join('/'), DryRun });
          if (r.error === null) expect((await tariff()).dir.startsWith(root)).toBe(true);
          else
            expect(r.error).toMatch(/^(INVALID_PATH|UNSUPPORTED_FORMAT: |MANDATORY_IE_MISSING:FolderPath)/);
        },
      ),
      { numRuns: 150 },
    );
  });
});
