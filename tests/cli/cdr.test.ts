/**
 * The `cdr` commands as operators run them: real processes against the real Redis and PostgreSQL
 * (this file's key prefix and schema). Ctrl-C stops an import cleanly (exit 3, a summary, no batch
 * pending, the rerun charges the rest once); every command explains itself; progress is a plain
 * line off a terminal; summaries name the currency and the duplicates; rejects can be listed and
 * exported; the generator makes realistic files, the same for a seed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalanceStore } from '../../src/balances/store.js';
import { GENERATED_REJECTS } from '../../src/cdr/generate.js';
import { ensureCdrSchema } from '../../src/cdr/store.js';
import { databaseUrl, testPostgres } from '../support/postgres.js';
import { redisEnv, testRedis } from '../support/redis.js';

const { redis, prefix } = testRedis();
const { pool, schema } = testPostgres();
const balances = createBalanceStore({ redis, keyPrefix: prefix });
const START = 100_000_000_000_000; // 100,000 GBP each: no CDR here is refused for credit
const SUBSCRIBERS = 50;
const dir = mkdtempSync(join(tmpdir(), 'cli-cdr-'));
const tmp = (name: string) => join(dir, name);
const HEADER = 'cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI; `whileRunning` may act on the process (send it a signal) before it ends. */
async function cli(
  args: string[],
  whileRunning?: (child: ReturnType<typeof spawn>) => Promise<void>,
  tariffDir = 'tariffs/sample',
  env: Record<string, string> = {},
) {
  const child = spawn('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      ...redisEnv(), // REDIS_URL, or REDIS_CLUSTER_NODES on a Cluster
      DATABASE_URL: databaseUrl(),
      KEY_PREFIX: prefix,
      DB_SCHEMA: schema,
      TARIFF_DIR: tariffDir,
      CDR_CHUNK_KIB: '32', // many batches
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Run = { code: null, signal: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
  const exited = new Promise<void>((done) =>
    child.once('exit', (code, signal) => {
      r.code = code;
      r.signal = signal;
      done();
    }),
  );
  await whileRunning?.(child);
  await exited;
  await new Promise((done) => setImmediate(done)); // the last output
  return r;
}

async function count(sql: string): Promise<number> {
  return (await pool.query<{ n: number }>(sql.replaceAll('$schema', schema))).rows[0]!.n;
}

async function moneyLeft(): Promise<number> {
  let left = 0;
  for (let i = 1; i <= SUBSCRIBERS; i++)
    left += (await balances.getAccount('acme', `c${i}`))!.balances[0]!.value;
  return left;
}

beforeAll(async () => {
  await ensureCdrSchema(pool, schema); // the CLI makes it too, but the test reads it before
  for (let i = 1; i <= SUBSCRIBERS; i++) {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: `c${i}`,
        type: 'prepaid',
        currency: 'GBP',
        subject: `c${i}`,
        subscriptions: [{ type: 'msisdn', value: String(447_700_900_000 + i) }],
      },
      'c',
    );
    await balances.addBalance('acme', `c${i}`, { id: 'main', unit: 'money', value: START }, 'b');
  }
});

describe('cli cdr: help', () => {
  it('prints the usage on stdout with exit code 0 for --help, -h or help on every command', async () => {
    const asks = [
      ['--help'],
      ['help'],
      ['cdr', '--help'],
      ['cdr', 'help'],
      ['cdr', 'import', '--help'],
      ['cdr', 'rerate', '--help'],
      ['cdr', 'rejects', '--help'],
      ['cdr', 'generate', '-h'],
      ['rate', '--help'],
    ];
    const runs = await Promise.all(asks.map((args) => cli(args)));
    for (const [i, r] of runs.entries()) {
      expect(r.code, asks[i]!.join(' ')).toBe(0);
      expect(r.stdout, asks[i]!.join(' ')).toMatch(/^usage: cli /);
    }
    expect(runs[4]!.stdout).toContain('--tenant T');
    expect(runs[2]!.stdout).toContain('cdr rejects --file F | --since T [--csv]');
  });

  it('says what is wrong with a command line, with exit code 2', async () => {
    const wrong = [['cdr'], ['cdr', 'frob'], ['cdr', 'import'], ['cdr', 'import', '--nope', 'x']];
    const runs = await Promise.all(wrong.map((args) => cli(args)));
    for (const [i, r] of runs.entries()) {
      expect(r.code, wrong[i]!.join(' ')).toBe(2);
      expect(r.stderr, wrong[i]!.join(' ')).toMatch(/^error: .*\n(.|\n)*usage: cli /);
    }
  });
});

describe('cli cdr generate', () => {
  it('makes the same file for a seed, with the subscribers, day, tenant and broken lines asked for', async () => {
    const args = (out: string) => [
      'cdr',
      'generate',
      '--out',
      out,
      '--lines',
      '4000',
      '--seed',
      '42',
      '--subscribers',
      '3000',
      '--day',
      '2026-12-01',
      '--tenant',
      'globex',
      '--broken-rate',
      '0.1',
    ];
    expect((await cli(args(tmp('g1.csv')))).code).toBe(0);
    expect((await cli(args(tmp('g2.csv')))).code).toBe(0);
    const text = readFileSync(tmp('g1.csv'), 'utf8');
    expect(readFileSync(tmp('g2.csv'), 'utf8')).toBe(text);
    const lines = text.trimEnd().split('\n').slice(1);
    expect(lines).toHaveLength(4000);
    const cells = lines.map((l) => l.split(','));
    expect(cells.every((c) => c[1] === 'globex' || c[1] === '"globex')).toBe(true);
    const msisdns = new Set(cells.map((c) => Number(c[2])).filter((m) => m > 0));
    expect(Math.min(...msisdns)).toBeGreaterThanOrEqual(447_700_900_001);
    expect(Math.max(...msisdns)).toBeLessThanOrEqual(447_700_903_000);
    expect(msisdns.size).toBeGreaterThan(1000);
    expect(cells.every((c) => c[0]!.startsWith('globex-20261201-42-'))).toBe(true);
    expect(cells.every((c) => c[6]!.startsWith('2026-12-01'))).toBe(true);
    const broken = cells.filter(
      (c) =>
        c[1] !== 'globex' || c[2] === '' || c[4] === 'fax' || c[6]!.includes(' ') || c[7]!.startsWith('-'),
    ).length;
    expect(broken).toBeGreaterThan(300);
    expect(broken).toBeLessThan(500);
  });

  it('refuses options out of range', async () => {
    const bad = [
      ['--broken-rate', '1.5'],
      ['--subscribers', '0'],
      ['--day', '2026-02-30'],
      ['--lines', '-1'],
      ['--tenant', 'a,b'],
    ];
    const runs = await Promise.all(
      bad.map((extra) => cli(['cdr', 'generate', '--out', tmp('bad.csv'), '--lines', '10', ...extra])),
    );
    for (const [i, r] of runs.entries()) expect(r.code, bad[i]!.join(' ')).toBe(2);
  });
});

describe('cli cdr: Redis or PostgreSQL not answering', () => {
  it('stops import, rerate and rejects with exit code 3, saying to run the same command again', async () => {
    const file = tmp('outage.csv');
    writeFileSync(
      file,
      `${HEADER}\nout-1,acme,447700900001,call,voice,+442071234567,2026-11-17T10:00:00Z,60,,\n`,
    );
    const noRedis = { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '' };
    const noPostgres = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' };
    const importIt = ['cdr', 'import', file, '--progress-seconds', '0'];
    const rerate = ['cdr', 'rerate', '--from', '2026-11-17T00:00:00Z', '--to', '2026-11-18T00:00:00Z'];
    const cases = [
      ['import, no Redis', importIt, noRedis],
      ['import, no PostgreSQL', importIt, noPostgres],
      ['rerate, no Redis', rerate, noRedis],
      ['rerate, no PostgreSQL', rerate, noPostgres],
      ['rejects, no PostgreSQL', ['cdr', 'rejects', '--file', file], noPostgres],
    ] as const;
    const runs = await Promise.all(cases.map(([, args, env]) => cli([...args], undefined, undefined, env)));
    for (const [i, r] of runs.entries()) {
      expect(r.code, `${cases[i]![0]}: ${r.stderr}`).toBe(3);
      expect(r.stderr, cases[i]![0]).toMatch(/stopped: Redis or PostgreSQL is not answering/);
      expect(r.stderr, cases[i]![0]).toContain('run the same command again');
    }
    expect(await count(`SELECT count(*)::int AS n FROM $schema.rated_cdrs WHERE cdr_id = 'out-1'`)).toBe(0);
  });
});

describe('cli cdr import and rejects', () => {
  const file = tmp('broken.csv');

  it('summarises with the currency and the duplicates, and lists every reject with its line', async () => {
    const gen = await cli([
      'cdr',
      'generate',
      '--out',
      file,
      '--lines',
      '2000',
      '--seed',
      '3',
      '--broken-rate',
      '0.05',
    ]);
    expect(gen.code).toBe(0);
    const first = await cli(['cdr', 'import', file, '--progress-seconds', '0']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/charged \d+(\.\d+)? GBP\n/);
    expect(first.stdout).toMatch(/duplicates 0/);
    const broken = Number(/rejected (\d+)/.exec(first.stdout)![1]);
    expect(broken).toBeGreaterThan(50);
    expect(first.stdout).toContain(`cli cdr rejects --file ${file}`);

    const again = await cli(['cdr', 'import', file, '--progress-seconds', '0']);
    expect(again.stdout).toMatch(new RegExp(`duplicates ${(2000 - broken).toLocaleString('en')}`));
    expect(again.stdout).toMatch(/charged nothing/);

    const listed = await cli(['cdr', 'rejects', '--file', file]);
    expect(listed.code).toBe(0);
    const entries = [...listed.stdout.matchAll(/^(.+):(\d+) ([A-Z_]+): /gm)];
    expect(entries).toHaveLength(broken);
    expect(new Set(entries.map((e) => e[3]))).toEqual(new Set(GENERATED_REJECTS));
    expect(listed.stderr).toContain(`${broken} rejects`);
    // Line numbers count the header as line 1, as an editor does.
    const text = readFileSync(file, 'utf8').split('\n');
    for (const e of entries) expect(listed.stdout).toContain(`${e[1]}:${e[2]} ${e[3]}: `);
    const firstLine = Number(entries[0]![2]);
    expect(listed.stdout).toContain(`\n    ${text[firstLine - 1]}\n`);

    const csv = await cli(['cdr', 'rejects', '--file', file, '--csv']);
    const rows = csv.stdout.trimEnd().split('\n');
    expect(rows[0]).toBe('file,line,reason,detail,raw,stored_at');
    expect(rows).toHaveLength(broken + 1);
    expect(rows.slice(1).map((r) => Number(r.split(',')[1]))).toEqual(entries.map((e) => Number(e[2])));

    const since = await cli(['cdr', 'rejects', '--since', new Date(Date.now() + 60_000).toISOString()]);
    expect(since.stdout).toBe('');
    expect(since.stderr).toContain('0 rejects');
    expect((await cli(['cdr', 'rejects'])).code).toBe(2);
  });

  it('cuts lines at CDR_MAX_LINE_BYTES, as the engine does', async () => {
    const file = tmp('long-lines.csv');
    const line = (id: string) => `${id},acme,447700900001,call,voice,+442071234567,2026-11-18T10:00:00Z,60,,`;
    writeFileSync(file, [HEADER, line('mlb-1'), 'x'.repeat(2000), line('mlb-2')].join('\n') + '\n');
    const r = await cli(['cdr', 'import', file, '--progress-seconds', '0'], undefined, undefined, {
      CDR_MAX_LINE_BYTES: '1024',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('stored 2, duplicates 0, rejected 1: LINE_TOO_LONG 1');
    const rejects = await pool.query(
      `SELECT line::int AS line FROM ${schema}.cdr_rejects WHERE file_id = $1`,
      [file],
    );
    expect(rejects.rows).toEqual([{ line: 3 }]);
    // Out of its range the command refuses to start, naming the variable.
    const bad = await cli(['cdr', 'import', file], undefined, undefined, { CDR_MAX_LINE_BYTES: '100' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('CDR_MAX_LINE_BYTES');
  });

  it('names a gzip cut short that it cannot read to its end (exit code 1)', async () => {
    const file = tmp('cut.csv.gz');
    const line = (i: number) =>
      `cut-${i},acme,447700900001,call,voice,+442071234567,2026-11-18T11:00:00Z,60,,`;
    const whole = gzipSync(`${HEADER}\n${Array.from({ length: 50 }, (_, i) => line(i)).join('\n')}\n`);
    for (const n of [2, whole.length >> 1]) {
      writeFileSync(file, whole.subarray(0, n));
      const r = await cli(['cdr', 'import', file, '--progress-seconds', '0']);
      expect(r.code, `${n} bytes`).toBe(1);
      expect(r.stderr, `${n} bytes`).toContain(
        `error: ${file} cannot be read to its end: unexpected end of file`,
      );
    }
  });

  it('shows progress off a terminal as plain time-stamped lines', async () => {
    const big = tmp('progress.csv');
    await cli(['cdr', 'generate', '--out', big, '--lines', '30000', '--seed', '4']);
    const r = await cli(['cdr', 'import', big, '--progress-seconds', '0.05']);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes(`${big}:`));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z .+: \d+%, [\d,]+ read, [\d,]+ stored, /);
    expect(r.stderr).not.toContain('\r');
  });
});

describe('cli cdr import: Ctrl-C and SIGTERM', () => {
  it.each([
    ['SIGINT', 80_000, '2026-11-20', '9'], // the rerate tests below rerate this day's CDRs
    ['SIGTERM', 40_000, '2026-11-19', '12'], // `kill` of a cron job or a service stop
  ] as const)(
    '%s stops cleanly: exit 3, a summary, no batch pending, and the rerun charges the rest once',
    async (signal, LINES, day, seed) => {
      const file = tmp(`${signal}.csv`);
      expect(
        (
          await cli([
            'cdr',
            'generate',
            '--out',
            file,
            '--lines',
            String(LINES),
            '--seed',
            seed,
            '--day',
            day,
          ])
        ).code,
      ).toBe(0);
      const before = await moneyLeft();
      const charged = () =>
        count(`SELECT count(*)::int AS n FROM $schema.rated_cdrs WHERE file_id = '${file}'`);
      const stopped = await cli(['cdr', 'import', file, '--progress-seconds', '0'], async (child) => {
        for (let i = 0; i < 6000 && (await charged()) === 0; i++) await new Promise((r) => setTimeout(r, 5));
        child.kill(signal);
      });
      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(3);
      expect(stopped.stderr).toContain(`${signal}: stopping`);
      const after = Number(/stopped after line ([\d,]+)/.exec(stopped.stdout)![1]!.replaceAll(',', ''));
      const storedFirst = Number(/stored ([\d,]+)/.exec(stopped.stdout)![1]!.replaceAll(',', ''));
      expect(storedFirst).toBeGreaterThan(0);
      expect(after).toBeLessThan(LINES + 1);
      expect(await count(`SELECT count(*)::int AS n FROM $schema.cdr_batches`)).toBe(0);
      expect(await charged()).toBe(storedFirst);

      const rerun = await cli(['cdr', 'import', file, '--progress-seconds', '0']);
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toContain('rejected 0\n');
      expect(rerun.stdout).toContain(`going on after line ${after.toLocaleString('en')}`);
      expect(await charged()).toBe(LINES);
      expect(
        await count(
          `SELECT count(DISTINCT cdr_id)::int AS n FROM $schema.rated_cdrs WHERE file_id = '${file}'`,
        ),
      ).toBe(LINES);
      const sum = await pool.query<{ s: string }>(
        `SELECT sum(charged_nano)::text AS s FROM ${schema}.rated_cdrs WHERE file_id = $1`,
        [file],
      );
      expect(before - (await moneyLeft())).toBe(Number(sum.rows[0]!.s));
    },
  );
});

describe('cli cdr import --tenant', () => {
  it("takes the file as that tenant's: lines of another tenant are rejects and charge nothing", async () => {
    const file = tmp('globex.csv');
    await cli(['cdr', 'generate', '--out', file, '--lines', '300', '--tenant', 'globex', '--seed', '11']);
    const before = await moneyLeft();
    const r = await cli(['cdr', 'import', file, '--tenant', 'acme', '--progress-seconds', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stored 0, duplicates 0, rejected 300: TENANT_MISMATCH 300');
    expect(await moneyLeft()).toBe(before);
  });
});

describe('cli cdr rerate', () => {
  it('shows progress off a terminal', async () => {
    // The Ctrl-C test stored 80,000 CDRs of this day.
    const r = await cli([
      'cdr',
      'rerate',
      '--from',
      '2026-11-20T00:00:00Z',
      '--to',
      '2026-11-21T00:00:00Z',
      '--progress-seconds',
      '0.05',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes(' rerate 2026-11-20'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z rerate .+: [\d,]+ examined, [\d,]+ changed/);
    expect(r.stdout).toMatch(/^rerated .+: examined \d+, changed 0/);
  });

  it('quits at once on Ctrl-C with exit code 3, and the next rerate finishes', async () => {
    // The Ctrl-C and SIGTERM tests stored 120,000 CDRs on these two days.
    const period = ['--from', '2026-11-19T00:00:00Z', '--to', '2026-11-21T00:00:00Z'];
    const stopped = await cli(['cdr', 'rerate', ...period, '--progress-seconds', '0.05'], async (child) => {
      await new Promise<void>((started) => {
        let err = '';
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes(' examined')) started();
        });
        child.once('exit', () => started());
      });
      child.kill('SIGINT');
    });
    expect(stopped.code, stopped.stdout).toBe(3);
    expect(stopped.stderr).toContain('SIGINT: quitting; the next cdr rerate finishes what this one began');
    const next = await cli(['cdr', 'rerate', ...period, '--progress-seconds', '0']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/^rerated .+: examined \d+, changed 0/);
  });

  it('names a refusal for credit INSUFFICIENT_CREDIT, as imports do', async () => {
    await balances.createAccount(
      {
        tenant: 'acme',
        id: 'poor',
        type: 'prepaid',
        currency: 'GBP',
        subject: 'poor',
        subscriptions: [{ type: 'msisdn', value: '447700999999' }],
      },
      'c',
    );
    await balances.addBalance('acme', 'poor', { id: 'main', unit: 'money', value: 1_000_000_000 }, 'b');
    const file = tmp('poor.csv');
    writeFileSync(
      file,
      `${HEADER}\n` + 'poor-1,acme,447700999999,call,voice,+442071234567,2026-10-05T10:00:00Z,60,,\n',
    );
    expect((await cli(['cdr', 'import', file, '--progress-seconds', '0'])).code).toBe(0);
    // The same tariff with every price a hundred times higher or more: "0.10" becomes "10.10".
    const dear = tmp('dear-tariff');
    mkdirSync(dear, { recursive: true });
    writeFileSync(
      join(dear, 'tariff.json'),
      readFileSync('tariffs/sample/tariff.json', 'utf8').replace(/"(rate|connectFee)": "0\./g, '"$1": "10.'),
    );
    const r = await cli(
      [
        'cdr',
        'rerate',
        '--from',
        '2026-10-05T00:00:00Z',
        '--to',
        '2026-10-06T00:00:00Z',
        '--account',
        'poor',
      ],
      undefined,
      dear,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('failed: INSUFFICIENT_CREDIT 1');
  });
});
