/**
 * Rating kernel benchmark (tinybench): one voice event against a plan with 50,000 prefixes, one
 * data event, and the same with the readable breakdown; plus compile time for 50k and 400k
 * prefixes. Run: `npm run bench:rating`. Prints a calibration figure to compare runs.
 */
import { Bench } from 'tinybench';
import { compileTariff, describeResult, rateEvent, type RatingEvent } from '../src/rating/index.js';
import { MAX_USAGE } from '../src/rating/units.js';
import { rng } from '../src/random.js';
import { syntheticPlan } from './synthetic-tariff.js';
import { calibrate } from './lib/calibrate.js';

function time<T>(f: () => T): [T, number] {
  const t = process.hrtime.bigint();
  const r = f();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

const { plan, prefixes } = syntheticPlan(50_000);
const [tariff, compileMs] = time(() => compileTariff(plan));
const rand = rng(7);
const N = 1024;
const base = Date.UTC(2026, 10, 16, 6, 0, 0);
// Numbers under random known prefixes, answer times spread over a week, 1 s .. 10 min.
const voice: RatingEvent[] = Array.from({ length: N }, () => ({
  tenant: 'acme',
  category: 'call',
  subject: 'u',
  destination: prefixes[Math.floor(rand() * prefixes.length)]! + '1234567',
  answerTimeMs: base + Math.floor(rand() * 7 * 86400) * 1000,
  usage: (1 + Math.floor(rand() * 600)) * 1e9,
  tor: 'voice',
}));
const data: RatingEvent[] = Array.from({ length: N }, () => ({
  tenant: 'acme',
  category: 'data',
  subject: 'u',
  destination: '',
  answerTimeMs: base + Math.floor(rand() * 7 * 86400) * 1000,
  usage: 1 + Math.floor(rand() * 50_000_000),
  tor: 'data',
}));

let sink = 0n;
const bench = new Bench({ time: 2000, warmupTime: 300 });
let i = 0;
bench
  .add('rate voice (50k prefixes, peak/off-peak)', () => {
    const r = rateEvent(tariff, voice[i++ & (N - 1)]!);
    if (r.ok) sink += r.costNano;
  })
  .add('rate data (*any, 1 KiB increments)', () => {
    const r = rateEvent(tariff, data[i++ & (N - 1)]!);
    if (r.ok) sink += r.costNano;
  })
  .add('rate voice of MAX_USAGE (72 h, 1 s increments, peak/off-peak: per span, not per second)', () => {
    const ev = voice[i++ & (N - 1)]!;
    const r = rateEvent(tariff, { ...ev, usage: MAX_USAGE.voice * 1e9 });
    if (r.ok) sink += r.costNano;
  })
  .add('rate voice + readable breakdown', () => {
    const r = rateEvent(tariff, voice[i++ & (N - 1)]!);
    if (r.ok) sink += BigInt(describeResult(r).spans.length);
  });

const calib = calibrate();
await bench.run();
const [, compile400Ms] = time(() => compileTariff(syntheticPlan(400_000, 2).plan));

console.log(`machine: ${process.arch}, node ${process.version}, calibration ${calib.toFixed(0)} Miter/s`);
console.log(
  `compile 50k prefixes: ${compileMs.toFixed(0)} ms; compile 400k prefixes: ${compile400Ms.toFixed(0)} ms`,
);
for (const task of bench.tasks) {
  const r = task.result;
  if (!r || r.state !== 'completed') continue;
  console.log(
    `${task.name}: ${Math.round(r.throughput.mean).toLocaleString('en')} events/s (p99 ${(r.latency.p99 * 1000).toFixed(2)} µs)`,
  );
}
if (sink < 0n) console.log(sink);
