/**
 * A 400,000-prefix CGRateS plan loads, compiles and prices (CGRateS users report 45-60 minutes
 * for 170,000). Time is printed, not asserted: bench/RESULTS.md records it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileTariff, parseEvent, rateEvent } from '../../src/rating/index.js';
import { cgratesFiles } from '../../src/tariffs/cgrates-writer.js';
import { loadTariffFolder } from '../../src/tariffs/load.js';
import { syntheticPlan } from '../../bench/synthetic-tariff.js';
import { folder } from './folders.js';

describe('a large plan', () => {
  it('loads 400,000 prefixes from CSV and prices against them', async () => {
    const { plan, prefixes } = syntheticPlan(400_000, 3);
    const dir = await folder({});
    for (const [name, text] of Object.entries(cgratesFiles(plan, 'second')))
      await writeFile(join(dir, name), text);

    const t0 = performance.now();
    const loaded = await loadTariffFolder(dir);
    const t1 = performance.now();
    const tariff = compileTariff(loaded.plan);
    const t2 = performance.now();
    console.log(`400k prefixes: load ${(t1 - t0).toFixed(0)} ms, compile ${(t2 - t1).toFixed(0)} ms`);

    expect(tariff.counts.prefixes).toBe(400_000);
    const ev = parseEvent({
      tenant: 'acme',
      category: 'call',
      subject: 'x',
      destination: prefixes[123_456]! + '99',
      answerTime: '2026-11-21T10:00:00Z',
      usage: 60,
      tor: 'voice',
    });
    if ('ok' in ev) throw new Error(ev.message);
    const r = rateEvent(tariff, ev);
    expect(r.ok && r.segments[0]!.matchedPrefix).toBe(prefixes[123_456]);
  });
});
