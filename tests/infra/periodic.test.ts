/**
 * Background jobs while a dependency is away: they back off, say so once per outage and once when
 * it ends; a bug is logged every time. Real timers, short periods.
 */
import { describe, expect, it } from 'vitest';
import { backoffMs, runEvery } from '../../src/infra/periodic.js';

function recorder() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_obj: object, msg: string) => void lines.push({ level, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('runEvery', () => {
  it('backs off while a dependency is away, warns once per outage, and says when it ends', async () => {
    const { lines, log } = recorder();
    const runs: number[] = [];
    let down = true;
    const stop = runEvery({
      name: 'drain',
      everyMs: 10,
      maxBackoffMs: 80,
      log,
      job: async () => {
        runs.push(performance.now());
        if (down) throw refused();
      },
    });
    await new Promise((ok) => setTimeout(ok, 400));
    down = false;
    await new Promise((ok) => setTimeout(ok, 200));
    await stop();
    const failed = runs.length;
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(0);
    // 400 ms at 10 ms would be ~40 runs; backing off to 80 ms makes it well under half of that.
    expect(failed).toBeLessThan(40);
    await new Promise((ok) => setTimeout(ok, 50));
    expect(runs).toHaveLength(failed); // stopped
  });

  it('logs a failure that is not an outage every time, at its own pace', async () => {
    const { lines, log } = recorder();
    const stop = runEvery({
      name: 'sweep',
      everyMs: 10,
      log,
      job: () => Promise.reject(new TypeError('x is not a function')),
    });
    await new Promise((ok) => setTimeout(ok, 120));
    await stop();
    expect(lines.filter((l) => l.level === 'error').length).toBeGreaterThan(3);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(0);
  });

  it('doubles the wait per failed run, up to the cap, never below the period', () => {
    expect([1, 2, 3, 4, 5, 40].map((n) => backoffMs(1000, 5000, n))).toEqual([
      2000, 4000, 5000, 5000, 5000, 5000,
    ]);
    expect(backoffMs(60_000, 5000, 3)).toBe(60_000);
  });
});
