/**
 * The CDR file format (documented in cdr-samples/README.md): CSV with a header row. Our own layout
 * uses the names below; an operator's layout is read through a column mapping (our field -> their
 * header name, fixed values, and a unit factor for usage).
 */

export const CDR_FIELDS = [
  'cdr_id',
  'tenant',
  'subscriber',
  'category',
  'service',
  'destination',
  'start_time',
  'usage',
  'subject',
  'rating_group',
] as const;
export type CdrField = (typeof CDR_FIELDS)[number];

export const REQUIRED_FIELDS: readonly CdrField[] = [
  'cdr_id',
  'tenant',
  'subscriber',
  'category',
  'service',
  'destination',
  'start_time',
  'usage',
];

export interface ColumnMapping {
  /** Our field -> the header name of the column holding it in the file. */
  columns: Partial<Record<CdrField, string>>;
  /** Fields with one value for the whole file (e.g. the tenant). */
  fixed?: Partial<Record<CdrField, string>>;
  /** Usage in the file is this many of ours per unit written, per service (e.g. voice in ms: 0.001). */
  usageFactor?: Partial<Record<'voice' | 'data' | 'sms' | 'generic', number>>;
}

/** Our own layout: every column named as the field. */
export const NATIVE_MAPPING: ColumnMapping = { columns: Object.fromEntries(CDR_FIELDS.map((f) => [f, f])) };

export type Service = 'voice' | 'data' | 'sms' | 'generic';

export interface CdrRecord {
  cdrId: string;
  tenant: string;
  subscriber: string;
  category: string;
  service: Service;
  destination: string;
  /** The start time as written (ISO-8601 with offset) and as epoch ms. */
  startTime: string;
  answerTimeMs: number;
  /** Seconds for voice, bytes for data, messages for SMS, units for generic. */
  usage: number;
  subject?: string;
  ratingGroup?: number;
  /** Where the record came from: 1-based line number in the file, and the line as written. */
  line: number;
  raw: string;
}

/** Why a line is refused before rating (docs/CDR.md lists every reason, these and later ones). */
export type RejectReason =
  | 'MALFORMED_LINE'
  | 'MISSING_FIELD'
  | 'FIELD_TOO_LONG'
  | 'COLUMN_COUNT'
  | 'INVALID_TIME'
  | 'INVALID_USAGE'
  | 'USAGE_OUT_OF_RANGE'
  | 'UNKNOWN_SERVICE'
  | 'INVALID_RATING_GROUP'
  | 'TENANT_MISMATCH'
  | 'LINE_TOO_LONG';

/** How the lines of one file are read: where our fields are, and what every line must meet. */
export interface LineRules {
  /** Column positions of our fields, from the header. */
  index: Partial<Record<CdrField, number>>;
  /** Columns in the header: a line with more is refused (its values would be shifted). */
  columns: number;
  mapping: ColumnMapping;
  /** The only tenant the lines may name (a file uploaded over HTTP: its uploader's). */
  tenant?: string;
  /**
   * The latest start time a line may have, epoch ms (the import's clock and a day): a switch clock
   * years ahead is wrong, and every month it names would become a partition of rated_cdrs.
   */
  latestMs?: number;
}

export interface CdrReject {
  line: number;
  /** A RejectReason, or later in the pipeline: UNKNOWN_SUBSCRIBER, a rating error code, DUPLICATE_ID_CONFLICT, INSUFFICIENT_CREDIT, ACCOUNT_INACTIVE. */
  reason: RejectReason | string;
  detail: string;
  raw: string;
}
