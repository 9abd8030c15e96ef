/**
 * Parsing CDR lines. A malformed line rejects that line (with a reason code, the detail and the raw
 * text), never the file. Fields are found with indexOf scanning; a line with a double quote goes
 * through a correct quoted-field parser instead.
 */
import { parseIsoTime } from '../rating/event.js';
import {
  REQUIRED_FIELDS,
  type CdrField,
  type CdrRecord,
  type CdrReject,
  type ColumnMapping,
  type Service,
} from './format.js';

const SERVICES: Readonly<Record<string, Service>> = {
  voice: 'voice',
  data: 'data',
  sms: 'sms',
  generic: 'generic',
  '*voice': 'voice',
  '*data': 'data',
  '*sms': 'sms',
  '*generic': 'generic',
};

export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) {
    const out: string[] = [];
    let from = 0;
    for (let at = line.indexOf(','); at >= 0; at = line.indexOf(',', from)) {
      out.push(line.slice(from, at));
      from = at + 1;
    }
    out.push(line.slice(from));
    return out;
  }
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '"' && line[i + 1] === '"') {
      field += '"'; // an escaped quote
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(field);
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('unterminated quote');
  out.push(field);
  return out;
}

/** Column positions of our fields in a file, from its header and a mapping; or the missing ones. */
export function columnIndex(
  header: string,
  mapping: ColumnMapping,
): { index: Partial<Record<CdrField, number>>; missing: CdrField[] } {
  const names = splitCsvLine(header.trim()).map((h) => h.trim());
  const index: Partial<Record<CdrField, number>> = {};
  const missing: CdrField[] = [];
  for (const [field, column] of Object.entries(mapping.columns) as [CdrField, string][]) {
    const at = names.indexOf(column);
    if (at >= 0) index[field] = at;
  }
  for (const f of REQUIRED_FIELDS)
    if (index[f] === undefined && mapping.fixed?.[f] === undefined) missing.push(f);
  return { index, missing };
}

export function parseCdrLine(
  raw: string,
  line: number,
  index: Partial<Record<CdrField, number>>,
  mapping: ColumnMapping,
): CdrRecord | CdrReject {
  const reject = (reason: CdrReject['reason'], detail: string): CdrReject => ({ line, reason, detail, raw });
  let cells: string[];
  try {
    cells = splitCsvLine(raw);
  } catch (err) {
    return reject('MALFORMED_LINE', (err as Error).message);
  }
  const get = (f: CdrField) => {
    const at = index[f];
    return (at === undefined ? mapping.fixed?.[f] : cells[at]?.trim()) ?? '';
  };
  for (const f of REQUIRED_FIELDS)
    if (get(f) === '' && f !== 'destination') return reject('MISSING_FIELD', `${f} is empty`);
  const service = SERVICES[get('service').toLowerCase()];
  if (!service)
    return reject('UNKNOWN_SERVICE', `service "${get('service')}" is not voice, data, sms or generic`);
  const startTime = get('start_time');
  const answerTimeMs = parseIsoTime(startTime);
  if (answerTimeMs === undefined)
    return reject('INVALID_TIME', `start_time "${startTime}" is not ISO-8601 with an offset`);
  const written = Number(get('usage'));
  const usage = written * (mapping.usageFactor?.[service] ?? 1);
  if (
    !/^\d+(\.\d+)?$/.test(get('usage')) ||
    !Number.isFinite(usage) ||
    (service !== 'voice' && !Number.isInteger(usage))
  ) {
    return reject(
      'INVALID_USAGE',
      `usage "${get('usage')}" is not a number >= 0${service !== 'voice' ? ' of whole units' : ''}`,
    );
  }
  const rg = get('rating_group');
  if (rg !== '' && !/^\d+$/.test(rg))
    return reject('INVALID_RATING_GROUP', `rating_group "${rg}" is not a whole number`);
  const subject = get('subject');
  return {
    cdrId: get('cdr_id'),
    tenant: get('tenant'),
    subscriber: get('subscriber'),
    category: get('category'),
    service,
    destination: get('destination'),
    startTime,
    answerTimeMs,
    usage,
    ...(subject ? { subject } : {}),
    ...(rg ? { ratingGroup: Number(rg) } : {}),
    line,
    raw,
  };
}
