/**
 * Scale-out on this box: the charging harness (bench/charging-load.ts) with 1 and 2 engines, on a
 * Redis Cluster of 1 and of 3 masters that this starts (scripts/start-redis-cluster.sh, ports
 * 8300 and 8310-8312, no replicas) and stops. Alternating rounds: each round measures the
 * skeleton (bench/http-ceiling.ts, `/ccr`: fastify + one debit on the local Redis) and then every
 * variant, in reverse order every other round, so a noisy minute on a shared box hits every
 * variant alike; the summary gives each variant's medians and its ratios to the 1-master 1-engine
 * run of the same round. Every line of every run is printed too.
 *
 *   npx tsx bench/charging-engines.ts [--rounds 3 --seconds 10 --connections 16 --accounts 1000]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    accounts: { type: 'string', default: '1000' },
    port: { type: 'string', default: '3481' },
    /** Start with the order of an even round (to pair with an earlier run's odd rounds). */
    reversed: { type: 'boolean', default: false },
  },
});

const CLUSTERS = [
  { masters: 1, base: 8300 },
  { masters: 3, base: 8310 },
];
const VARIANTS = CLUSTERS.flatMap((c) => [1, 2].map((engines) => ({ ...c, engines })));
const label = (v: (typeof VARIANTS)[number]) => `${v.masters}m${v.engines}e`;

interface Run {
  rps: number;
  p99: number;
  engineUs: number;
  redisUs: number;
  fcallUs: number;
  failed: number;
}

/** Runs a command, printing its output as it comes, prefixed; resolves with all of it. */
function run(args: string[], env: NodeJS.ProcessEnv, prefix: string): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn('npx', ['tsx', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      process.stdout.write(
        c
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => `${prefix} ${l}\n`)
          .join(''),
      );
    });
    let err = ''; // engines' start banners and progress: kept to tell why a run failed
    p.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    p.on('exit', (code) =>
      code === 0 ? ok(out) : fail(new Error(`${args.join(' ')} exited ${code}: ${err.slice(-600)}`)),
    );
  });
}

function parse(out: string): Run {
  const num = (re: RegExp) => Number(re.exec(out)?.[1]?.replaceAll(',', '') ?? NaN);
  return {
    rps: num(/\| ([\d,]+) req\/s/),
    p99: num(/p99 ([\d.]+) ms/),
    engineUs: num(/engines (\d+) µs CPU/),
    redisUs: num(/Redis (\d+) µs CPU/),
    fcallUs: num(/FCALL time (\d+) µs/),
    failed: num(/\| (\d+) failed of/),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ocs-bench-clusters-'));
  const stop = () => {
    for (const c of CLUSTERS)
      execFileSync('bash', ['scripts/stop-redis-cluster.sh', join(dir, String(c.base))]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => (stop(), process.exit(130)));
  try {
    for (const c of CLUSTERS)
      execFileSync('bash', ['scripts/start-redis-cluster.sh', String(c.base), join(dir, String(c.base))], {
        env: { ...process.env, NODES: String(c.masters), REPLICAS: '0' },
        stdio: 'ignore',
      });
    const runs = new Map<string, Run[]>(VARIANTS.map((v) => [label(v), []]));
    const ceilings: number[] = [];
    const ratios = new Map<string, { rps: number[]; p99: number[] }>(
      VARIANTS.map((v) => [label(v), { rps: [], p99: [] }]),
    );
    for (let round = 1; round <= Number(values.rounds); round++) {
      console.log(
        `== round ${round} ${new Date().toISOString()} load ${execFileSync('cat', ['/proc/loadavg'])}`,
      );
      const ceiling = await run(
        [
          'bench/http-ceiling.ts',
          '--port',
          String(Number(values.port) + 10),
          '--seconds',
          '3',
          '--connections',
          values.connections!,
        ],
        process.env,
        'ceiling',
      );
      ceilings.push(Number(/"route":"\/ccr","rps":(\d+)/.exec(ceiling)?.[1] ?? NaN));
      const order = (round + (values.reversed ? 1 : 0)) % 2 ? VARIANTS : [...VARIANTS].reverse();
      const inRound = new Map<string, Run>();
      for (const v of order) {
        // A run that fails (an engine too slow to start on a loaded box) is told and left out.
        const out = await run(
          [
            'bench/charging-load.ts',
            ...['--engines', String(v.engines), '--port', values.port!, '--seconds', values.seconds!],
            ...['--connections', values.connections!, '--accounts', values.accounts!],
          ],
          {
            ...process.env,
            REDIS_CLUSTER_NODES: Array.from({ length: v.masters }, (_, i) => `127.0.0.1:${v.base + i}`).join(
              ',',
            ),
          },
          label(v),
        ).catch((e: Error) => (console.log(`${label(v)} failed: ${e.message}`), ''));
        if (!out) continue;
        const r = parse(out);
        runs.get(label(v))!.push(r);
        inRound.set(label(v), r);
      }
      const base = inRound.get('1m1e');
      for (const [l, r] of inRound) {
        if (!base) break; // no pairing in a round whose baseline failed
        ratios.get(l)!.rps.push(r.rps / base.rps);
        ratios.get(l)!.p99.push(r.p99 / base.p99);
      }
    }
    console.log(
      `\nskeleton /ccr (local Redis, ${values.connections} connections): ${ceilings.join(', ')} req/s`,
    );
    console.log(
      '| variant | req/s (median) | p99 ms (median) | req/s ÷ 1m1e same round | p99 ÷ 1m1e same round | engine CPU µs/req | Redis CPU µs/req | FCALL µs/req | failed |',
    );
    for (const v of VARIANTS) {
      const rs = runs.get(label(v))!;
      const q = ratios.get(label(v))!;
      const m = (f: (r: Run) => number) => median(rs.map(f));
      console.log(
        `| ${v.masters} master(s), ${v.engines} engine(s) | ${m((r) => r.rps)} | ${m((r) => r.p99).toFixed(1)} | ` +
          `${q.rps.map((x) => x.toFixed(2)).join(' / ')} | ${q.p99.map((x) => x.toFixed(2)).join(' / ')} | ` +
          `${m((r) => r.engineUs)} | ${m((r) => r.redisUs)} | ${m((r) => r.fcallUs)} | ${rs.map((r) => r.failed).join('/')} |`,
      );
    }
  } finally {
    stop();
  }
}

await main();
