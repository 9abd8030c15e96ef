/**
 * The notification detector against a ledger backlog: N money movements (accounts each debited from
 * 20 to 0 in steps of 1) judged against three rules (below 5, exhausted, spend above 15), beside
 * the ceiling of reading the same rows in the same order and batch size without judging them.
 *
 *   npx tsx bench/notifications.ts [--accounts 10000 --steps 20 --batch 5000]
 *
 * Uses DATABASE_URL (default: local) under a private schema, dropped after.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureLedgerSchema, ledgerTable, LedgerRows } from '../src/balances/ledger.js';
import { detectOnce } from '../src/notifications/detect.js';
import { ruleFromBody } from '../src/notifications/rules.js';
import { ensureNotificationsSchema } from '../src/notifications/schema.js';
import { saveRule } from '../src/notifications/store.js';
import { ensureWebhooksSchema } from '../src/webhooks/schema.js';
import { calibrate } from './lib/calibrate.js';

const { values } = parseArgs({
  allowPositionals: true, // npm run passes a '--'
  options: {
    accounts: { type: 'string', default: '10000' },
    steps: { type: 'string', default: '20' },
    batch: { type: 'string', default: '5000' },
  },
});
const ACCOUNTS = Number(values.accounts);
const STEPS = Number(values.steps);
const BATCH = Number(values.batch);
const NANO = 1_000_000_000;
const schema = `bench_notify_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
});
const f = (n: number) => Math.round(n).toLocaleString('en');

/** The backlog: every account's debits, in the order a drain would store them. */
async function fill(): Promise<number> {
  let rows = new LedgerRows();
  let n = 0;
  const at = String(Date.now());
  for (let s = 1; s <= STEPS; s++)
    for (let a = 0; a < ACCOUNTS; a++) {
      const fields = new Map([
        ['moves', `a,main,money,debit,${-NANO},0,${(STEPS - s) * NANO}`],
        ['op', `op-${a}-${s}`],
        ['at', at],
        ['account', `acc${a}`],
      ]);
      rows.add('bench-outbox', `${s}-${a}`, 'acme', fields);
      if (rows.length === 5000) {
        await rows.insert(pool, schema);
        n += rows.length;
        rows = new LedgerRows();
      }
    }
  await rows.insert(pool, schema);
  return n + rows.length;
}

/** The ceiling: the detector's read alone, batch after batch by the same keyset. */
async function readOnly(): Promise<number> {
  let last = ['0', '0'];
  let n = 0;
  for (;;) {
    const r = await pool.query<{ txid: string; position: string }>(
      `SELECT txid::text, position, stream, entry_id, seq, tenant, account_id, op_id, scope, balance_id, unit, kind,
              delta, value_after, at FROM ${ledgerTable(schema)}
        WHERE (txid, position) > ($1::xid8, $2::bigint) ORDER BY txid, position LIMIT $3`,
      [last[0], last[1], BATCH],
    );
    if (r.rows.length === 0) return n;
    n += r.rows.length;
    const x = r.rows[r.rows.length - 1]!;
    last = [x.txid, x.position];
  }
}

async function detectAll(): Promise<number> {
  let n = 0;
  for (let idle = 0; idle < 500;) {
    const got = await detectOnce({ pool, schema, groupOf: async () => null, batchSize: BATCH });
    n += got;
    if (got > 0) continue;
    const behind = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${ledgerTable(schema)} l, ${schema}.notification_watermark w
        WHERE (l.txid, l.position) > (w.txid, w.position)`,
    );
    if (behind.rows[0]!.n === 0) return n;
    idle++;
    await new Promise((r) => setTimeout(r, 20)); // another transaction on the server holds the horizon
  }
  throw new Error('the detector did not catch up');
}

async function main(): Promise<void> {
  console.log(
    `calib ${calibrate()} Miter/s; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  await ensureLedgerSchema(pool, schema);
  await ensureWebhooksSchema(pool, schema);
  await ensureNotificationsSchema(pool, schema);
  for (const [code, body] of [
    ['low5', { kind: 'money_below', amount: '5' }],
    ['empty', { kind: 'money_exhausted' }],
    ['spend15', { kind: 'spend_above', amount: '15' }],
  ] as const)
    await saveRule(pool, schema, 'acme', ruleFromBody(code, body));
  const rows = await fill();
  let t = performance.now();
  await readOnly();
  const readS = (performance.now() - t) / 1000;
  t = performance.now();
  const judged = await detectAll();
  const detectS = (performance.now() - t) / 1000;
  const events = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.events`);
  console.log(`${f(rows)} ledger rows, ${f(ACCOUNTS)} accounts, batch ${f(BATCH)}`);
  console.log(`read alone (ceiling): ${f(rows / readS)} rows/s`);
  console.log(
    `detector: ${f(judged / detectS)} rows/s (${(rows / readS / (judged / detectS)).toFixed(1)}x the ceiling's time), ` +
      `${f(events.rows[0]!.n)} events (expected ${f(3 * ACCOUNTS)})`,
  );
  console.log(
    `load after ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}

main()
  .finally(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await pool.end();
  })
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
