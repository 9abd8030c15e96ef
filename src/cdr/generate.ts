/**
 * Synthetic CDR files for demos, tests and benchmarks: a small MVNO's traffic (voice, SMS, data, some
 * roaming-like destinations) over one day, deterministic for a seed, written in large chunks (10
 * million lines in seconds), optionally gzip-compressed, optionally with a share of broken lines of
 * the kinds switches really send (each one a reject with a known reason).
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

/** The first subscriber's msisdn minus one: subscriber k (1-based) is 447700900000 + k. */
const MSISDN_BASE = 447_700_900_000;
export const MAX_SUBSCRIBERS = 1_000_000;

export interface GenerateOptions {
  lines: number;
  seed?: number;
  gzip?: boolean;
  /** Subscribers are 447700900001 .. 447700900000 + subscribers (default 50). */
  subscribers?: number;
  tenant?: string;
  /** The day the traffic happens, UTC midnight as ISO (default 2026-11-20). */
  day?: string;
  /** The share of lines (0..1) that are broken, each in a way the parser rejects (default 0). */
  brokenRate?: number;
}

/** Broken lines as switches send them, with the reject each one gets. */
const BROKEN: {
  reason: string;
  line: (id: string, tenant: string, msisdn: string, start: string) => string;
}[] = [
  { reason: 'MISSING_FIELD', line: (id, t, _m, s) => `${id},${t},,call,voice,+442071234567,${s},60,,` },
  {
    reason: 'INVALID_TIME',
    line: (id, t, m, s) =>
      `${id},${t},${m},call,voice,+442071234567,${s.slice(0, 19).replace('T', ' ')},60,,`,
  },
  { reason: 'INVALID_USAGE', line: (id, t, m, s) => `${id},${t},${m},call,voice,+442071234567,${s},-60,,` },
  { reason: 'UNKNOWN_SERVICE', line: (id, t, m, s) => `${id},${t},${m},fax,fax,+442071234567,${s},1,,` },
  { reason: 'MALFORMED_LINE', line: (id, t, m, s) => `${id},"${t},${m},call,voice,+442071234567,${s},60,,` },
];

/** The reject reasons of the broken lines the generator writes. */
export const GENERATED_REJECTS = BROKEN.map((b) => b.reason);

function checkOptions(o: GenerateOptions): void {
  if (!Number.isInteger(o.lines) || o.lines < 0) throw new RangeError('lines must be a whole number >= 0');
  const s = o.subscribers ?? 50;
  if (!Number.isInteger(s) || s < 1 || s > MAX_SUBSCRIBERS)
    throw new RangeError(`subscribers must be a whole number in 1..${MAX_SUBSCRIBERS}`);
  if (o.tenant !== undefined && !/^[\w.-]+$/.test(o.tenant))
    throw new RangeError('tenant must be letters, digits, "_", "-" or "." (it is written unquoted)');
  const b = o.brokenRate ?? 0;
  if (!(b >= 0 && b <= 1)) throw new RangeError('brokenRate must be a number in 0..1');
  if (o.day !== undefined && Number.isNaN(Date.parse(o.day)))
    throw new RangeError(`day must be a date (2026-11-20), got "${o.day}"`);
}

export async function generateCdrFile(path: string, opts: GenerateOptions): Promise<void> {
  checkOptions(opts);
  const rand = rng(opts.seed ?? 1);
  const subscribers = opts.subscribers ?? 50;
  const tenant = opts.tenant ?? 'acme';
  const brokenRate = opts.brokenRate ?? 0;
  const dayMs = Date.parse(opts.day ?? '2026-11-20T00:00:00Z');
  // Ids unique across tenants, days and seeds (a second day imported is not a day of duplicates),
  // and the same for the same options.
  const idPrefix = `${tenant}-${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}-${opts.seed ?? 1}-`;
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
    const subscriber = String(MSISDN_BASE + 1 + Math.floor(rand() * subscribers));
    const start = new Date(dayMs + Math.floor(rand() * 86_400) * 1000).toISOString();
    const kind = rand();
    const id = idPrefix + i;
    let row: string;
    // The share of broken lines draws from the sequence only when asked for, so a seed without
    // them makes the same file as before they existed.
    if (brokenRate > 0 && rand() < brokenRate)
      row = BROKEN[Math.floor(kind * BROKEN.length)]!.line(id, tenant, subscriber, start);
    else if (kind < 0.5)
      row = `${id},${tenant},${subscriber},call,voice,${DESTINATIONS[Math.floor(rand() * DESTINATIONS.length)]},${start},${1 + Math.floor(rand() * 600)},,`;
    else if (kind < 0.8)
      row = `${id},${tenant},${subscriber},sms,sms,${DESTINATIONS[Math.floor(rand() * 8)]},${start},1,,`;
    else
      row = `${id},${tenant},${subscriber},data,data,,${start},${1024 * (1 + Math.floor(rand() * 50_000))},,10`;
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
