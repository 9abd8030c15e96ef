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

/** A field of a split line, as our field: a column (trimmed), a fixed value, or ''. */
function field(
  cells: string[],
  index: Partial<Record<CdrField, number>>,
  mapping: ColumnMapping,
  f: CdrField,
): string {
  const at = index[f];
  if (at === undefined) return mapping.fixed?.[f] ?? '';
  const v = cells[at];
  if (v === undefined) return '';
  // Trimming allocates; most fields have nothing to trim.
  return v.length > 0 && (v.charCodeAt(0) <= 32 || v.charCodeAt(v.length - 1) <= 32) ? v.trim() : v;
}

/** Digits, optionally with a decimal part (or, `whole`, digits only). */
function isPlainNumber(s: string, whole: boolean): boolean {
  if (s.length === 0) return false;
  let dot = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && dot < 0 && !whole && i > 0 && i < s.length - 1) dot = i;
    else if (c < 48 || c > 57) return false;
  }
  return true;
}

function reject(line: number, raw: string, reason: CdrReject['reason'], detail: string): CdrReject {
  return { line, reason, detail, raw };
}

export function parseCdrLine(
  raw: string,
  line: number,
  index: Partial<Record<CdrField, number>>,
  mapping: ColumnMapping,
): CdrRecord | CdrReject {
  let cells: string[];
  try {
    cells = splitCsvLine(raw);
  } catch (err) {
    return reject(line, raw, 'MALFORMED_LINE', (err as Error).message);
  }
  const cdrId = field(cells, index, mapping, 'cdr_id');
  const tenant = field(cells, index, mapping, 'tenant');
  const subscriber = field(cells, index, mapping, 'subscriber');
  const category = field(cells, index, mapping, 'category');
  const serviceText = field(cells, index, mapping, 'service');
  const destination = field(cells, index, mapping, 'destination');
  const startTime = field(cells, index, mapping, 'start_time');
  const usageText = field(cells, index, mapping, 'usage');
  // Required (the destination may be empty: data has none), in the order they are reported.
  const empty =
    cdrId === ''
      ? 'cdr_id'
      : tenant === ''
        ? 'tenant'
        : subscriber === ''
          ? 'subscriber'
          : category === ''
            ? 'category'
            : serviceText === ''
              ? 'service'
              : startTime === ''
                ? 'start_time'
                : usageText === ''
                  ? 'usage'
                  : null;
  if (empty) return reject(line, raw, 'MISSING_FIELD', `${empty} is empty`);
  const service = SERVICES[serviceText] ?? SERVICES[serviceText.toLowerCase()];
  if (!service)
    return reject(
      line,
      raw,
      'UNKNOWN_SERVICE',
      `service "${serviceText}" is not voice, data, sms or generic`,
    );
  const answerTimeMs = parseIsoTime(startTime);
  if (answerTimeMs === undefined)
    return reject(line, raw, 'INVALID_TIME', `start_time "${startTime}" is not ISO-8601 with an offset`);
  const usage = Number(usageText) * (mapping.usageFactor?.[service] ?? 1);
  if (
    !isPlainNumber(usageText, false) ||
    !Number.isFinite(usage) ||
    (service !== 'voice' && !Number.isInteger(usage))
  ) {
    return reject(
      line,
      raw,
      'INVALID_USAGE',
      `usage "${usageText}" is not a number >= 0${service !== 'voice' ? ' of whole units' : ''}`,
    );
  }
  const rg = field(cells, index, mapping, 'rating_group');
  if (rg !== '' && !isPlainNumber(rg, true))
    return reject(line, raw, 'INVALID_RATING_GROUP', `rating_group "${rg}" is not a whole number`);
  const subject = field(cells, index, mapping, 'subject');
  const r: CdrRecord = {
    cdrId,
    tenant,
    subscriber,
    category,
    service,
    destination,
    startTime,
    answerTimeMs,
    usage,
    line,
    raw,
  };
  if (subject) r.subject = subject;
  if (rg) r.ratingGroup = Number(rg);
  return r;
}

/**
 * Each line of a chunk of whole lines whose first line is `firstLine`, parsed in order: a record
 * (with where its line starts in the text) or a reject. Nothing is kept, so a caller that is done
 * with a record when the callback returns leaves only short-lived garbage.
 */
export function eachLine(
  text: string,
  firstLine: number,
  index: Partial<Record<CdrField, number>>,
  mapping: ColumnMapping,
  onRecord: (r: CdrRecord, start: number) => void,
  onReject: (j: CdrReject) => void,
): void {
  let line = firstLine;
  for (let from = 0; from < text.length; line++) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const raw = text.charCodeAt(to - 1) === 13 ? text.slice(from, to - 1) : text.slice(from, to);
    const at = from;
    from = to + 1;
    if (raw.trim() === '') continue;
    const parsed = parseCdrLine(raw, line, index, mapping);
    if ('reason' in parsed) onReject(parsed);
    else onRecord(parsed, at);
  }
}

/** The records and rejects of a chunk of whole lines whose first line is `firstLine`. */
export function parseLines(
  text: string,
  firstLine: number,
  index: Partial<Record<CdrField, number>>,
  mapping: ColumnMapping,
): { records: CdrRecord[]; rejects: CdrReject[] } {
  const records: CdrRecord[] = [];
  const rejects: CdrReject[] = [];
  eachLine(
    text,
    firstLine,
    index,
    mapping,
    (r) => records.push(r),
    (j) => rejects.push(j),
  );
  return { records, rejects };
}
