/** Reading CDR files: records in order, rejects with reasons, gzip, column mappings, the generator. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CdrRecord, CdrReject, ColumnMapping } from '../../src/cdr/format.js';
import { generateCdrFile } from '../../src/cdr/generate.js';
import { splitCsvLine } from '../../src/cdr/parse.js';
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
