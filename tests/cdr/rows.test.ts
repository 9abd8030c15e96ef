import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyRow, CopyBuffer } from '../../src/cdr/rows.js';

describe('COPY rows in bytes', () => {
  it('holds every row as UTF-8, each ending where it says, ASCII or not, however the rows fall', () => {
    const row = fc
      .array(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 })), {
        minLength: 1,
        maxLength: 6,
      })
      .map((values) => `${copyRow(values)}\n`);
    fc.assert(
      fc.property(fc.array(row, { maxLength: 400 }), fc.integer({ min: 1, max: 4096 }), (rows, size) => {
        const out = new CopyBuffer(size, 1);
        for (const r of rows) out.append(r);
        const { bytes, ends } = out.take();
        expect(Buffer.from(bytes).equals(Buffer.from(rows.join(''), 'utf8'))).toBe(true);
        let at = 0;
        const want = rows.map((r) => (at += Buffer.byteLength(r, 'utf8')));
        expect([...ends]).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('cuts a long run of rows (beyond one encoding batch) at the right bytes', () => {
    const out = new CopyBuffer();
    const rows = Array.from(
      { length: 5000 },
      (_, i) => `${copyRow([`cdr-${i}`, i % 7 ? 'plain' : 'Zürich ☎'])}\n`,
    );
    for (const r of rows) out.append(r);
    const { bytes, ends } = out.take();
    const text = (i: number) => Buffer.from(bytes.subarray(i ? ends[i - 1]! : 0, ends[i]!)).toString('utf8');
    expect(text(0)).toBe(rows[0]);
    expect(text(4999)).toBe(rows[4999]);
    expect(text(2891)).toBe(rows[2891]);
  });
});
