/**
 * What `cli vouchers …` runs (voucher-commands.ts is its table): the voucher routes' services on the
 * engine's stores found as `npm start` finds them, with the engine's voucher keys (WEBHOOK_SECRET_KEY,
 * else the dev key file in DATA_DIR: the same PIN hashes as the engine's). Each prints one JSON line;
 * a refusal prints `{status: "refused", code, message}` and exits 1, having changed nothing.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createBalanceStore } from '../balances/store.js';
import { loadConfig } from '../config.js';
import { postgresFor, redisFor } from '../infra/connect.js';
import { ensureEngineSchema } from '../storage/schema.js';
import { PlansError } from '../billing/plans/errors.js';
import { loadWebhookKey } from '../webhooks/secret-key.js';
import { createBatch, getBatch, setBatchBlocked, type BatchRequest } from '../vouchers/batches.js';
import type { VoucherDeps } from '../vouchers/deps.js';
import { takePins } from '../vouchers/download.js';
import { VoucherError } from '../vouchers/errors.js';
import { voucherKeys } from '../vouchers/keys.js';
import { setVoucherBlocked } from '../vouchers/serials.js';

const SERIAL = /^[0-9A-Z]{8}-[0-9]{7}$/;

async function withVouchers(run: (deps: VoucherDeps) => Promise<number>): Promise<number> {
  const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
  const redis = await redisFor(config);
  const pg = await postgresFor(config);
  try {
    const { pool } = pg;
    const schema = config.dbSchema;
    await ensureEngineSchema(pool, schema); // under the schema's lock (storage/schema.ts)
    const balances = createBalanceStore({ redis: redis.redis, keyPrefix: config.keyPrefix });
    return await run({
      pool,
      schema,
      balances,
      redis: redis.redis,
      keyPrefix: config.keyPrefix,
      keys: voucherKeys(loadWebhookKey(config.webhooks.secretKey, config.dataDir)),
      plans: { pool, schema, balances, now: Date.now },
      now: Date.now,
    });
  } finally {
    await redis.stop();
    await pg.stop();
  }
}

/** The service's answer as one JSON line (0), or its refusal (1). */
async function answered(work: () => Promise<unknown>): Promise<number> {
  try {
    process.stdout.write(`${JSON.stringify(await work())}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof VoucherError) && !(err instanceof PlansError)) throw err;
    const params = err instanceof VoucherError ? { invalidParams: err.invalidParams } : err.extra;
    process.stdout.write(
      `${JSON.stringify({ status: 'refused', code: err.code, message: err.message, ...params })}\n`,
    );
    return 1;
  }
}

/** A batch of more than 10,000 is generated in the background: the command waits for it. */
async function generated(deps: VoucherDeps, tenant: string, batchId: string) {
  for (;;) {
    const b = await getBatch(deps, tenant, batchId);
    if (b.status !== 'generating') return b;
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

export const generateCommand = (tenant: string, req: BatchRequest) =>
  withVouchers((deps) =>
    answered(async () => {
      const { batch, replayed } = await createBatch(deps, tenant, req);
      return { ...(await generated(deps, tenant, batch.batchId)), replayed };
    }),
  );

/**
 * The file is created first (never over another): PINs are never taken without a place to go. A
 * refusal (unknown batch, generating, already downloaded) removes the empty file again.
 */
export async function downloadCommand(tenant: string, batchId: string, out: string): Promise<number> {
  let fd: number;
  try {
    fd = openSync(out, 'wx', 0o600);
  } catch (err) {
    const message = `cannot create ${out}: ${(err as Error).message}`;
    process.stdout.write(`${JSON.stringify({ status: 'refused', code: 'FILE', message })}\n`);
    return 1;
  }
  let lines = 0;
  const code = await withVouchers((deps) =>
    answered(async () => {
      for (const chunk of await takePins(deps, tenant, batchId)) {
        writeSync(fd, chunk);
        lines += chunk.split('\n').length - 1;
      }
      return { batchId, file: out, vouchers: lines - 1 };
    }),
  ).finally(() => closeSync(fd));
  if (lines === 0) unlinkSync(out);
  return code;
}

/** A serial blocks one voucher; anything else names a batch. */
export const blockCommand = (tenant: string, id: string, blocked: boolean) =>
  withVouchers((deps) =>
    answered(() =>
      SERIAL.test(id)
        ? setVoucherBlocked(deps, tenant, id, blocked)
        : setBatchBlocked(deps, tenant, id, blocked),
    ),
  );
