/**
 * Parsing CDR lines. A malformed line rejects that line (with a reason code, the detail and the raw
 * text), never the file. Fields are found with indexOf scanning; a line with a double quote goes
 * through a correct quoted-field parser instead.
 */
import { parseIsoTime } from '../rating/event.js';
import { MAX_USAGE } from '../rating/units.js';
import {
  REQUIRED_FIELDS,
  type CdrField,
  type CdrRecord,
  type CdrReject,
  type ColumnMapping,
  type LineRules,
  type RejectReason,
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
): { index: Partial<Record<CdrField, number>>; columns: number; missing: CdrField[] } {
  const names = splitCsvLine(header.trim()).map((h) => h.trim());
  const index: Partial<Record<CdrField, number>> = {};
  const missing: CdrField[] = [];
  for (const [field, column] of Object.entries(mapping.columns) as [CdrField, string][]) {
    const at = names.indexOf(column);
    if (at >= 0) index[field] = at;
  }
  for (const f of REQUIRED_FIELDS)
    if (index[f] === undefined && mapping.fixed?.[f] === undefined) missing.push(f);
  return { index, columns: names.length, missing };
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

/** Usage as our unit (the mapping's factor applied), or why it is refused. */
function usageOf(text: string, service: Service, mapping: ColumnMapping): number | [RejectReason, string] {
  const usage = Number(text) * (mapping.usageFactor?.[service] ?? 1);
  if (!isPlainNumber(text, false) || (service !== 'voice' && !Number.isInteger(usage)))
    return [
      'INVALID_USAGE',
      `usage "${text}" is not a number >= 0${service !== 'voice' ? ' of whole units' : ''}`,
    ];
  // The HTTP API's limits: beyond them a value is a switch's filler, and rating it would take long.
  if (!(usage <= MAX_USAGE[service]))
    return [
      'USAGE_OUT_OF_RANGE',
      `usage "${text}" is more than ${MAX_USAGE[service]}, the most one ${service} CDR may have`,
    ];
  return usage;
}

/**
 * The longest id or name a line may hold: a CDR id is a primary key, and PostgreSQL cannot index a
 * value past about 2.7 KB (the COPY would fail, and the file with it, at every run).
 */
export const MAX_FIELD_CHARS = 256;

/** The first of these fields (in this order) longer than MAX_FIELD_CHARS, if any. */
function longField(cdrId: string, tenant: string, subscriber: string, category: string, destination: string) {
  if (cdrId.length > MAX_FIELD_CHARS) return 'cdr_id';
  if (tenant.length > MAX_FIELD_CHARS) return 'tenant';
  if (subscriber.length > MAX_FIELD_CHARS) return 'subscriber';
  if (category.length > MAX_FIELD_CHARS) return 'category';
  return destination.length > MAX_FIELD_CHARS ? 'destination' : null;
}

/** The largest rating group a line may name (they are kept as 32-bit integers). */
const MAX_RATING_GROUP = 2 ** 31 - 1;

export function parseCdrLine(raw: string, line: number, rules: LineRules): CdrRecord | CdrReject {
  // PostgreSQL text cannot hold a NUL: such a line could be neither stored nor kept as it is.
  if (raw.includes('\u0000')) return reject(line, raw, 'MALFORMED_LINE', 'the line holds a NUL byte');
  let cells: string[];
  try {
    cells = splitCsvLine(raw);
  } catch (err) {
    return reject(line, raw, 'MALFORMED_LINE', (err as Error).message);
  }
  // Fewer columns leave trailing fields empty (a required one is MISSING_FIELD); more shift them.
  if (cells.length > rules.columns)
    return reject(
      line,
      raw,
      'COLUMN_COUNT',
      `the line has ${cells.length} columns, the header ${rules.columns}`,
    );
  const { index, mapping } = rules;
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
  const long = longField(cdrId, tenant, subscriber, category, destination);
  if (long)
    return reject(line, raw, 'FIELD_TOO_LONG', `${long} is longer than ${MAX_FIELD_CHARS} characters`);
  if (rules.tenant !== undefined && tenant !== rules.tenant)
    return reject(
      line,
      raw,
      'TENANT_MISMATCH',
      `tenant "${tenant}" is not the file's tenant "${rules.tenant}"`,
    );
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
    return reject(
      line,
      raw,
      'INVALID_TIME',
      `start_time "${startTime}" is not a real date and time in ISO-8601 with an offset`,
    );
  if (rules.latestMs !== undefined && answerTimeMs > rules.latestMs)
    return reject(
      line,
      raw,
      'INVALID_TIME',
      `start_time "${startTime}" is after ${new Date(rules.latestMs).toISOString()}: in the future`,
    );
  const usage = usageOf(usageText, service, mapping);
  if (typeof usage !== 'number') return reject(line, raw, usage[0], usage[1]);
  const rg = field(cells, index, mapping, 'rating_group');
  if (rg !== '' && (!isPlainNumber(rg, true) || Number(rg) > MAX_RATING_GROUP))
    return reject(
      line,
      raw,
      'INVALID_RATING_GROUP',
      `rating_group "${rg}" is not a whole number from 0 to ${MAX_RATING_GROUP}`,
    );
  const subject = field(cells, index, mapping, 'subject');
  if (subject.length > MAX_FIELD_CHARS)
    return reject(line, raw, 'FIELD_TOO_LONG', `subject is longer than ${MAX_FIELD_CHARS} characters`);
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
  rules: LineRules,
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
    const parsed = parseCdrLine(raw, line, rules);
    if ('reason' in parsed) onReject(parsed);
    else onRecord(parsed, at);
  }
}

/** The records and rejects of a chunk of whole lines whose first line is `firstLine`. */
export function parseLines(
  text: string,
  firstLine: number,
  rules: LineRules,
): { records: CdrRecord[]; rejects: CdrReject[] } {
  const records: CdrRecord[] = [];
  const rejects: CdrReject[] = [];
  eachLine(
    text,
    firstLine,
    rules,
    (r) => records.push(r),
    (j) => rejects.push(j),
  );
  return { records, rejects };
}
