/**
 * Reads a log of bench/lib/paired-runs.sh and prints, per variant, the medians over its rounds and,
 * per round, its p99 over the skeleton's `/ccr` p99 of the same round; then each variant against the
 * first one, round by round (paired ratios, which a noisy box spoils far less than absolute figures).
 *
 *   npx tsx bench/lib/paired-summary.ts LOG [BASELINE_LABEL]
 */
import { readFileSync } from 'node:fs';

interface Run {
  calib: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  loopP99: number;
  loopMax: number;
  /** CPU ms per request: the main thread's, the whole process's. */
  mainCpu: number;
  processCpu: number;
  gcMs: number;
  gcSeconds: number;
}
interface Round {
  ceilingP99?: number;
  runs: Map<string, Run>;
}

const RUN =
  /^(\S+) calib (\d+) Miter\/s \| 4 connections \| ([\d,]+) req\/s \| p50 ([\d.]+) ms \| p99 ([\d.]+) ms \| p999 ([\d.]+) ms \| \d+ failed of (\d+) \|.*loop delay: p50 [\d.]+ ms, p99 ([\d.]+) ms, max ([\d.]+) ms; CPU: process (\d+) ms, main thread (\d+) ms; GC: \d+ pauses, (\d+) ms in (\d+) s/;

function parse(text: string): Round[] {
  const rounds: Round[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('== round')) rounds.push({ runs: new Map() });
    const round = rounds.at(-1);
    if (!round) continue;
    const ceiling = /^ceiling (\{.*"route":"\/ccr".*\})$/.exec(line);
    if (ceiling) round.ceilingP99 = Number((JSON.parse(ceiling[1]!) as { p99: string }).p99);
    const m = RUN.exec(line);
    if (!m) continue;
    const n = Number(m[7]);
    round.runs.set(m[1]!, {
      calib: Number(m[2]),
      rps: Number(m[3]!.replace(/,/g, '')),
      p50: Number(m[4]),
      p99: Number(m[5]),
      p999: Number(m[6]),
      loopP99: Number(m[8]),
      loopMax: Number(m[9]),
      processCpu: Number(m[10]) / n,
      mainCpu: Number(m[11]) / n,
      gcMs: Number(m[12]),
      gcSeconds: Number(m[13]),
    });
  }
  return rounds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

const rounds = parse(readFileSync(process.argv[2]!, 'utf8'));
const labels = [...new Set(rounds.flatMap((r) => [...r.runs.keys()]))];
const baseline = process.argv[3] ?? labels[0]!;
const f = (x: number, d = 2) => x.toFixed(d);
const ceilings = rounds.flatMap((r) => (r.ceilingP99 ? [r.ceilingP99] : []));
console.log(`rounds ${rounds.length}; skeleton /ccr p99 median ${f(median(ceilings))} ms`);
for (const label of labels) {
  const mine = rounds.filter((r) => r.runs.has(label));
  const runs = mine.map((r) => r.runs.get(label)!);
  const m = (k: keyof Run) => median(runs.map((r) => r[k]));
  const toCeiling = mine.filter((r) => r.ceilingP99).map((r) => r.runs.get(label)!.p99 / r.ceilingP99!);
  console.log(
    `${label}: n ${runs.length}, calib ${m('calib')}, ${m('rps')} req/s, p50 ${f(m('p50'))}, p99 ${f(m('p99'))}, ` +
      `p999 ${f(m('p999'))} ms; loop p99 ${f(m('loopP99'), 1)}, max ${f(m('loopMax'), 1)} ms; CPU a request: ` +
      `main thread ${f(m('mainCpu'), 3)}, process ${f(m('processCpu'), 3)} ms; GC ${f(m('gcMs') / m('gcSeconds') / 10, 1)} % ` +
      `of wall time; p99 / skeleton p99: median ${f(median(toCeiling))} (${toCeiling.map((x) => f(x)).join(' ')})`,
  );
  if (label === baseline) continue;
  const paired = rounds.filter((r) => r.runs.has(label) && r.runs.has(baseline));
  const ratio = (k: keyof Run) => paired.map((r) => r.runs.get(label)![k] / r.runs.get(baseline)![k]);
  const show = (k: keyof Run) =>
    `${f(median(ratio(k)))} (${ratio(k)
      .map((x) => f(x))
      .join(' ')})`;
  console.log(`  / ${baseline}, round by round: p99 ${show('p99')}, main-thread CPU ${show('mainCpu')}`);
}
