/** Reading CDR files: records in order, rejects with reasons, gzip, column mappings, the generator. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineCutter, type CutChunk } from '../../src/cdr/cut.js';
import {
  NATIVE_MAPPING,
  type CdrRecord,
  type CdrReject,
  type ColumnMapping,
  type LineRules,
} from '../../src/cdr/format.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { columnIndex, parseCdrLine, splitCsvLine } from '../../src/cdr/parse.js';
import { CdrFileError, openCdrFile, readCdrBatches } from '../../src/cdr/read.js';

const dir = mkdtempSync(join(tmpdir(), 'cdr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string, mapping?: ColumnMapping) {
  const records: CdrRecord[] = [];
  const rejects: CdrReject[] = [];
  for await (const b of readCdrBatches(path, { chunkBytes: 512, ...(mapping ? { mapping } : {}) })) {
    records.push(...b.records);
    rejects.push(...b.rejects);
  }
  return { records, rejects };
}

describe('CDR files', () => {
  it('reads the sample day: every good line a record, every broken line a reject with its reason', async () => {
    const { records, rejects } = await readAll('cdr-samples/acme-2026-11-20.csv');
    expect(records).toHaveLength(400);
    expect(records[0]).toMatchObject({ cdrId: 'cdr-0', tenant: 'acme', service: 'sms', line: 2 });
    expect(records.map((r) => r.line)).toEqual([...records.map((r) => r.line)].sort((a, b) => a - b));
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [402, 'MISSING_FIELD'],
      [403, 'INVALID_TIME'],
      [404, 'INVALID_USAGE'],
      [405, 'UNKNOWN_SERVICE'],
      [406, 'MALFORMED_LINE'],
    ]);
    expect(rejects[1]!.raw).toContain('yesterday');
  });

  it('goes on after a line, whatever the chunk it falls in', async () => {
    const all = await readAll('cdr-samples/acme-2026-11-20.csv');
    for (const after of [1, 2, 100, 257, 405, 406]) {
      const records: CdrRecord[] = [];
      const rejects: CdrReject[] = [];
      for await (const b of readCdrBatches('cdr-samples/acme-2026-11-20.csv', {
        chunkBytes: 700,
        skipUntilLine: after,
      })) {
        records.push(...b.records);
        rejects.push(...b.rejects);
      }
      expect(records, `after ${after}`).toEqual(all.records.filter((r) => r.line > after));
      expect(rejects, `after ${after}`).toEqual(all.rejects.filter((r) => r.line > after));
    }
  });

  it('cuts chunks of whole lines of about the asked size, a small file too', async () => {
    const text = readFileSync('cdr-samples/acme-2026-11-20.csv', 'utf8');
    const sizes: number[] = [];
    for await (const c of (await openCdrFile('cdr-samples/acme-2026-11-20.csv', { chunkBytes: 4096 }))
      .chunks) {
      sizes.push(c.bytes.byteLength);
      expect(new Uint8Array(c.bytes).at(-1)).toBe(10); // ends with a line break
    }
    expect(sizes.length).toBeGreaterThanOrEqual(Math.floor((text.length - 200) / 4096));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(text) - text.indexOf('\n') - 1);
  });

  it('reads the gzip copy to the same records', async () => {
    const plain = await readAll('cdr-samples/acme-2026-11-20.csv');
    const gz = await readAll('cdr-samples/acme-2026-11-20.csv.gz');
    expect(gz).toEqual(plain);
  });

  it('reads a foreign layout through a column mapping', async () => {
    const mapping = JSON.parse(
      readFileSync('cdr-samples/partner-layout.mapping.json', 'utf8'),
    ) as ColumnMapping;
    const { records, rejects } = await readAll('cdr-samples/partner-layout.csv', mapping);
    expect(rejects).toEqual([]);
    expect(records.map((r) => [r.cdrId, r.tenant, r.category, r.usage])).toEqual([
      ['p-1', 'acme', 'call', 95],
      ['p-2', 'acme', 'call', 45.5],
      ['p-3', 'acme', 'call', 600],
    ]);
  });

  it('refuses a file whose header lacks required columns, naming them', async () => {
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'cdr_id,tenant\n1,acme\n');
    await expect(readAll(path)).rejects.toThrow(CdrFileError);
    await expect(readAll(path)).rejects.toThrow(
      /subscriber, category, service, destination, start_time, usage/,
    );
  });

  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['a,"b,c",d', ['a', 'b,c', 'd']],
    ['"say ""hi""",x', ['say "hi"', 'x']],
    ['a,,', ['a', '', '']],
  ])('splits %s', (line, cells) => expect(splitCsvLine(line)).toEqual(cells));

  it('generates deterministic files of the asked size, plain or gzip', async () => {
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv.gz');
    await generateCdrFile(a, { lines: 2000, seed: 7 });
    await generateCdrFile(b, { lines: 2000, seed: 7, gzip: true });
    const plain = await readAll(a);
    expect(plain.records).toHaveLength(2000);
    expect(plain.rejects).toEqual([]);
    expect(await readAll(b)).toEqual(plain);
    await generateCdrFile(a, { lines: 2000, seed: 8 });
    expect((await readAll(a)).records).not.toEqual(plain.records);
  });
});

describe('cutting lines', () => {
  /** What the cutter must make of `lines`: each kept as is, or (too long) an empty line and a reject. */
  function expected(lines: string[], max: number) {
    const kept = lines.map((l) => (Buffer.byteLength(l) > max ? '' : l));
    const rejects = lines.flatMap((l, i) => (Buffer.byteLength(l) > max ? [i + 2] : []));
    return { kept, rejects };
  }

  it('keeps every line and its number, and drops each line too long, wherever the stream breaks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constant('x'.repeat(40))), { maxLength: 40 }),
        fc.array(fc.nat(60), { maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        (raw, breaks, chunkBytes, lastBreak) => {
          const lines = raw.map((l) => l.replaceAll('\n', ''));
          const text = lines.join('\n') + (lastBreak && lines.length ? '\n' : '');
          const bytes = Buffer.from(text);
          const cutter = new LineCutter(chunkBytes, 20, 2);
          const chunks: CutChunk[] = [];
          let at = 0;
          for (const b of [...breaks.sort((x, y) => x - y), bytes.length]) {
            const to = Math.min(Math.max(b, at), bytes.length);
            chunks.push(...cutter.push(bytes.subarray(at, to)));
            at = to;
          }
          chunks.push(...cutter.end());
          const out = chunks.map((c) => Buffer.from(c.bytes).toString()).join('');
          const want = expected(text === '' ? [] : text.replace(/\n$/, '').split('\n'), 20);
          expect(out.replace(/\n$/, '').split('\n')).toEqual(want.kept.length ? want.kept : ['']);
          expect(chunks.flatMap((c) => c.rejects.map((j) => j.line))).toEqual(want.rejects);
          let line = 2;
          for (const c of chunks) {
            expect(c.firstLine).toBe(line);
            for (const j of c.rejects) expect(j.line).toBeLessThan(c.firstLine + c.lines);
            line += c.lines;
            // A chunk is at most chunkBytes, unless it is one line.
            if (c.lines > 1) expect(c.bytes.byteLength).toBeLessThanOrEqual(chunkBytes);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a header longer than the longest line, after reading no more than that', async () => {
    const path = join(dir, 'long-header.csv');
    writeFileSync(path, 'x'.repeat(1 << 20));
    await expect(openCdrFile(path, { maxLineBytes: 4096 })).rejects.toThrow(
      /header line is longer than 4096/,
    );
  });
});

describe('a line rule', () => {
  const HEADER =
    'cdr_id,tenant,subscriber,category,service,destination,start_time,usage,subject,rating_group';
  const { index, columns } = columnIndex(HEADER, NATIVE_MAPPING);
  const rules = { index, columns, mapping: NATIVE_MAPPING };
  const line = (start: string, usage = '60', service = 'voice', extra = '') =>
    `c1,acme,447700900001,call,${service},+442071234567,${start},${usage},,${extra}`;
  const reason = (raw: string, r: LineRules = rules) => {
    const p = parseCdrLine(raw, 2, r);
    return 'reason' in p ? p.reason : 'ok';
  };

  it.each([
    ['2026-11-20T10:00:00Z', 'ok'],
    ['2026-11-31T10:00:00Z', 'INVALID_TIME'],
    ['2026-02-30T00:00:00Z', 'INVALID_TIME'],
    ['2026-02-29T00:00:00Z', 'INVALID_TIME'],
    ['2028-02-29T00:00:00Z', 'ok'],
    ['2100-02-29T00:00:00Z', 'INVALID_TIME'],
    ['2000-02-29T00:00:00Z', 'ok'],
    ['0000-01-01T10:00:00Z', 'INVALID_TIME'],
    ['0001-01-01T10:00:00Z', 'INVALID_TIME'],
    ['1969-12-31T23:59:59Z', 'INVALID_TIME'],
    ['1970-01-01T00:00:00Z', 'ok'],
    ['9998-12-31T23:00:00-12:00', 'ok'],
    ['9999-12-31T23:00:00-12:00', 'INVALID_TIME'],
    ['2026-13-01T10:00:00Z', 'INVALID_TIME'],
    ['2026-11-20T24:00:00Z', 'INVALID_TIME'],
    ['2026-11-20T10:60:00Z', 'INVALID_TIME'],
    ['2026-11-20T10:00:60Z', 'INVALID_TIME'],
    ['2026-11-20T10:00:00.123456789+14:00', 'ok'],
    ['2026-11-20T10:00:00+1400', 'ok'],
    ['2026-11-20T10:00:00-15:00', 'INVALID_TIME'],
    ['2026-11-20T10:00:00+01:60', 'INVALID_TIME'],
    ['2026-11-20 10:00:00', 'INVALID_TIME'],
  ])('start_time %s: %s', (start, want) => expect(reason(line(start))).toBe(want));

  it.each([
    ['voice', '259200', 'ok'],
    ['voice', '259200.001', 'USAGE_OUT_OF_RANGE'],
    ['voice', '4294967295', 'USAGE_OUT_OF_RANGE'],
    ['voice', '10000000000000', 'USAGE_OUT_OF_RANGE'],
    ['voice', '9'.repeat(400), 'USAGE_OUT_OF_RANGE'],
    ['data', String(1024 ** 4), 'ok'],
    ['data', String(1024 ** 4 + 1), 'USAGE_OUT_OF_RANGE'],
    ['sms', '100001', 'USAGE_OUT_OF_RANGE'],
    ['generic', '1000000000001', 'USAGE_OUT_OF_RANGE'],
    ['voice', '-1', 'INVALID_USAGE'],
    ['sms', '1.5', 'INVALID_USAGE'],
  ])('%s usage %s: %s', (service, usage, want) =>
    expect(reason(line('2026-11-20T10:00:00Z', usage, service))).toBe(want),
  );

  it('limits usage after the mapping has scaled it (ms of voice)', () => {
    const ms = { ...rules, mapping: { ...NATIVE_MAPPING, usageFactor: { voice: 0.001 } } };
    expect(reason(line('2026-11-20T10:00:00Z', '259200000'), ms)).toBe('ok');
    expect(reason(line('2026-11-20T10:00:00Z', '259200001'), ms)).toBe('USAGE_OUT_OF_RANGE');
  });

  it('refuses more columns than the header, takes fewer (trailing fields empty)', () => {
    expect(reason(line('2026-11-20T10:00:00Z', '60', 'voice', '10,x'))).toBe('COLUMN_COUNT');
    expect(reason(line('2026-11-20T10:00:00Z', '60', 'voice', '10'))).toBe('ok');
    expect(reason('c1,acme,447700900001,call,voice,+442071234567,2026-11-20T10:00:00Z,60')).toBe('ok');
    expect(reason('c1,acme,447700900001,call,voice,+442071234567,2026-11-20T10:00:00Z')).toBe(
      'MISSING_FIELD',
    );
  });

  it('refuses a rating group past 32-bit and a line naming a tenant other than the file’s', () => {
    expect(reason(line('2026-11-20T10:00:00Z', '60', 'voice', '2147483648'))).toBe('INVALID_RATING_GROUP');
    expect(reason(line('2026-11-20T10:00:00Z', '60', 'voice', '2147483647'))).toBe('ok');
    expect(reason(line('2026-11-20T10:00:00Z'), { ...rules, tenant: 'globex' })).toBe('TENANT_MISMATCH');
    expect(reason(line('2026-11-20T10:00:00Z'), { ...rules, tenant: 'acme' })).toBe('ok');
  });
});
