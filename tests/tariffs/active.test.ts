/** A running engine keeps its last good tariff when a reload is refused. */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEvent, rateEvent } from '../../src/rating/index.js';
import { openActiveTariff } from '../../src/tariffs/active.js';
import { folder } from './folders.js';

const call = parseEvent({
  tenant: 'acme',
  category: 'call',
  subject: 'x',
  destination: '+447911123456',
  answerTime: '2026-11-20T10:00:00Z',
  usage: 60,
  tor: 'voice',
});

function price(t: ReturnType<Awaited<ReturnType<typeof openActiveTariff>>['current']>): string {
  if ('ok' in call) throw new Error(call.message);
  const r = rateEvent(t, call);
  return r.ok ? String(r.costNano) : r.code;
}

describe('active tariff', () => {
  it('swaps in a good plan and keeps the last good one when a reload is bad', async () => {
    const dir = await folder({});
    await cp('tariffs/sample', dir, { recursive: true });
    const active = await openActiveTariff(dir);
    expect(price(active.current())).toBe('200000000'); // 5p + 15p
    expect(active.info()).toMatchObject({ format: 'native', version: 1 });

    const doc = JSON.parse(await readFile(join(dir, 'tariff.json'), 'utf8'));
    doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = '0.30';
    await writeFile(join(dir, 'tariff.json'), JSON.stringify(doc));
    expect(await active.reload()).toMatchObject({ ok: true, info: { version: 2 } });
    expect(price(active.current())).toBe('350000000');

    doc.rates.find((r: { id: string }) => r.id === 'RT_MOBILE_PEAK').slots[0].rate = 'cheap';
    await writeFile(join(dir, 'tariff.json'), JSON.stringify(doc));
    const refused = await active.reload();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.problems[0]).toMatchObject({
      path: expect.stringContaining('/rates/'),
      field: 'rate',
    });
    expect(price(active.current())).toBe('350000000');
    expect(active.info().version).toBe(2);
  });
});
