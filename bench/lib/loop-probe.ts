/**
 * Preloaded into the engine by the charging harness (`node --import ./bench/lib/loop-probe.ts`):
 * measures what holds the event loop while the load runs — the loop's delay and the GC pauses —
 * and prints them to stderr when the engine is told to stop (SIGTERM, before its shutdown). SIGWINCH (sent once the load starts) resets the
 * figures, so start-up (compiling, loading the tariff) is not counted.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let gcCount = 0;
let gcTotalMs = 0;
let gcMaxMs = 0;
/** By kind (perf_hooks constants: 1 minor, 2 major, 4 incremental, 8 weak callbacks). */
let gcKinds: Record<number, { count: number; ms: number; maxMs: number }> = {};
let since = Date.now();
let heapAtStart = process.memoryUsage().heapUsed;

/**
 * CPU time (ms) of the main thread alone, from Linux's per-thread accounting (utime + stime, in
 * clock ticks of 10 ms); NaN elsewhere. The event loop that answers requests runs there; other
 * threads (the outbox drain, libuv's pool, V8's GC helpers) are in the process's total.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}
let cpuAtStart = process.cpuUsage();
let mainCpuAtStart = mainThreadCpuMs();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcTotalMs += e.duration;
    gcMaxMs = Math.max(gcMaxMs, e.duration);
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    const k = (gcKinds[kind] ??= { count: 0, ms: 0, maxMs: 0 });
    k.count++;
    k.ms += e.duration;
    k.maxMs = Math.max(k.maxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });

process.on('SIGWINCH', () => {
  delay.reset();
  gcCount = gcTotalMs = gcMaxMs = 0;
  gcKinds = {};
  since = Date.now();
  heapAtStart = process.memoryUsage().heapUsed;
  cpuAtStart = process.cpuUsage();
  mainCpuAtStart = mainThreadCpuMs();
});

process.once('SIGTERM', () => {
  // LOOP_PROBE_SNAPSHOT=DIR: what the heap holds at the end of the load, to see what GC must keep.
  if (process.env.LOOP_PROBE_SNAPSHOT)
    writeHeapSnapshot(`${process.env.LOOP_PROBE_SNAPSHOT}/engine.heapsnapshot`);
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  const seconds = (Date.now() - since) / 1000;
  const mb = (b: number) => (b / 2 ** 20).toFixed(0);
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stderr.write(
    `engine heap ${mb(heapAtStart)} -> ${mb(process.memoryUsage().heapUsed)} MiB; loop delay: p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, ` +
      `max ${ms(delay.max)} ms; CPU: process ${cpuMs.toFixed(0)} ms, main thread ${(mainThreadCpuMs() - mainCpuAtStart).toFixed(0)} ms; GC: ${gcCount} pauses, ${gcTotalMs.toFixed(0)} ms in ${seconds.toFixed(0)} s, ` +
      `longest ${gcMaxMs.toFixed(1)} ms; by kind ${JSON.stringify(gcKinds, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}\n`,
  );
});
