/**
 * Claims gathered into statements: the claims of concurrent redemptions that arrive while one
 * statement is in flight go out together in the next, so 100 redemptions at once cost a few
 * statements instead of 100 (each a socket write — a fraction of a millisecond of the engine's one
 * thread on this kind of machine — and a commit). A redemption alone waits one turn of the event
 * loop and goes alone.
 *
 * A statement that fails changed nothing (one statement, one transaction): its claims are then sent
 * again one by one, so each gets its own answer — the reference taken twice (23505) fails only the
 * claim that took it second, an outage fails each.
 */
import type { Pool } from 'pg';
import { claimMany, type Claim, type VoucherWithValue } from './voucher-rows.js';

type Answer = VoucherWithValue | undefined;

interface Waiting {
  claim: Claim;
  ok: (row: Answer) => void;
  fail: (err: unknown) => void;
}

interface Gathering {
  queue: Waiting[];
  running: boolean;
}

/** The most claims one statement carries. */
const MAX_PER_STATEMENT = 500;

const gatherings = new WeakMap<Pool, Map<string, Gathering>>();

function gatheringOf(pool: Pool, schema: string): Gathering {
  let bySchema = gatherings.get(pool);
  if (!bySchema) gatherings.set(pool, (bySchema = new Map()));
  let g = bySchema.get(schema);
  if (!g) bySchema.set(schema, (g = { queue: [], running: false }));
  return g;
}

async function send(pool: Pool, schema: string, batch: Waiting[]): Promise<void> {
  try {
    const won = await claimMany(
      pool,
      schema,
      batch.map((w) => w.claim),
    );
    batch.forEach((w, i) => w.ok(won[i]));
  } catch (err) {
    if (batch.length === 1) return batch[0]!.fail(err);
    await Promise.all(batch.map((w) => send(pool, schema, [w])));
  }
}

async function drain(pool: Pool, schema: string, g: Gathering): Promise<void> {
  // Let the redemptions reaching their claim in this turn of the event loop join the first statement.
  try {
    await new Promise<void>((ok) => setImmediate(ok));
    while (g.queue.length > 0) await send(pool, schema, g.queue.splice(0, MAX_PER_STATEMENT));
  } finally {
    g.running = false;
  }
}

/** Claims the voucher of `claim.hash` for its account (voucher-rows.ts claimMany), with others. */
export function claim(pool: Pool, schema: string, claim: Claim): Promise<Answer> {
  const g = gatheringOf(pool, schema);
  return new Promise<Answer>((ok, fail) => {
    g.queue.push({ claim, ok, fail });
    if (!g.running) {
      g.running = true;
      void drain(pool, schema, g);
    }
  });
}
