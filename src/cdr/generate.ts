/**
 * Synthetic CDR files for demos and benchmarks: a small MVNO's traffic (voice, SMS, data, some
 * roaming-like destinations), deterministic for a seed, written in large chunks (10 million lines
 * in seconds), optionally gzip-compressed.
 */
import { rng } from '../random.js';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { CDR_FIELDS } from './format.js';

const DESTINATIONS = [
  '+442071234567',
  '+441612345678',
  '+447911123456',
  '+447700900123',
  '+33612345678',
  '+34612345678',
  '+4915112345678',
  '+12125550100',
  '+449012345678',
  '121',
  '+44800123456',
];

export interface GenerateOptions {
  lines: number;
  seed?: number;
  gzip?: boolean;
  /** Subscribers are 447700900001 .. + subscribers. */
  subscribers?: number;
  tenant?: string;
  /** The day the traffic happens, UTC midnight as ISO (default 2026-11-20). */
  day?: string;
}

export async function generateCdrFile(path: string, opts: GenerateOptions): Promise<void> {
  const rand = rng(opts.seed ?? 1);
  const subscribers = opts.subscribers ?? 50;
  const tenant = opts.tenant ?? 'acme';
  const dayMs = Date.parse(opts.day ?? '2026-11-20T00:00:00Z');
  const file = createWriteStream(path);
  const gzip = opts.gzip ? createGzip({ level: 1 }) : null;
  if (gzip) gzip.pipe(file);
  const out = gzip ?? file;
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(CDR_FIELDS.join(',') + '\n');
  let chunk = '';
  for (let i = 0; i < opts.lines; i++) {
    const subscriber = `4477009${String(1 + Math.floor(rand() * subscribers)).padStart(5, '0')}`;
    const start = new Date(dayMs + Math.floor(rand() * 86_400) * 1000).toISOString();
    const kind = rand();
    let row: string;
    if (kind < 0.5)
      row = `cdr-${i},${tenant},${subscriber},call,voice,${DESTINATIONS[Math.floor(rand() * DESTINATIONS.length)]},${start},${1 + Math.floor(rand() * 600)},,`;
    else if (kind < 0.8)
      row = `cdr-${i},${tenant},${subscriber},sms,sms,${DESTINATIONS[Math.floor(rand() * 8)]},${start},1,,`;
    else
      row = `cdr-${i},${tenant},${subscriber},data,data,,${start},${1024 * (1 + Math.floor(rand() * 50_000))},,10`;
    chunk += row + '\n';
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(file, 'finish');
}
