/**
 * What the document store holds and the refusals it answers, as plain data. The codes are the
 * HTTP catalog's (src/http/errors.ts); the routes turn a DocumentError into the problem.
 */
import type { Pool, PoolClient } from 'pg';
import type { DocumentFigures } from '../core/document.js';

/** Where the documents live: the pool and the schema (DB_SCHEMA). */
export interface DocumentsDb {
  pool: Pool;
  schema: string;
}

export type DocumentCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVOICE_NOT_DRAFT'
  | 'INVOICE_IS_DRAFT'
  | 'INVOICE_NEEDS_REVIEW'
  | 'INVOICE_HAS_PAYMENTS'
  | 'INVOICE_IS_VOID'
  | 'CREDIT_EXCEEDS_INVOICE'
  | 'SERIES_IN_USE'
  | 'SERIES_NOT_FOUND'
  | 'SERIES_YEAR_CLOSED'
  | 'INVALID_REQUEST'
  // The run's own refusals of a draft's refresh and of an off-cycle invoice (run/refresh.ts, run/off-cycle.ts).
  | 'ACCOUNT_NOT_FOUND'
  | 'RUN_IN_PROGRESS'
  | 'LATER_BILL_CUT_OFF'
  | 'ACCOUNT_NOT_BILLABLE';

export class DocumentError extends Error {
  constructor(
    readonly code: DocumentCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Party {
  legalName?: string;
  address?: string[];
  country?: string;
  taxId?: string;
  [field: string]: unknown;
}

/** A draft as the run (or a test) builds it; `figures` comes from the core's buildDocument. */
export interface DraftInput {
  tenant: string;
  accountId: string;
  /** The bill period's number; the draft is idempotent on (tenant, accountId, billSeq). */
  billSeq: number | null;
  documentType: 'invoice' | 'statement';
  periodStart: number | Date;
  periodEnd: number | Date;
  cutoffAt: number | Date;
  currency: string;
  seller: Party;
  buyer: Party;
  figures: DocumentFigures;
  needsReview?: string;
  /** The account's IANA zone: issue date, due date and yearly reset are local dates (default UTC). */
  timezone?: string;
  /** Days from the issue date to the due date (default 14). */
  paymentTermsDays?: number;
  /** The series the document is numbered in (default INV for invoices, STM for statements). */
  series?: string;
}

/** A finalized invoice as the finalize hook sees it (the postpaid balance posting). */
export interface FinalizedInvoice {
  id: string;
  tenant: string;
  accountId: string;
  documentType: 'invoice' | 'statement';
  number: string;
  currency: string;
  totalNano: bigint;
  /** Σ exact nano of the lines whose money already moved in Redis (usage, fees, one-offs). */
  ledgerBackedNano: bigint;
}

export interface IssuedCreditNote {
  id: string;
  tenant: string;
  invoiceId: string;
  accountId: string;
  number: string;
  currency: string;
  totalNano: bigint;
  effect: 'reduce_due' | 'account_credit' | 'refund_record';
}

/**
 * Called inside the document's transaction (a throw rolls the whole finalization back). The run
 * posts the postpaid balance operation `invoice:{id}` here; credit notes credit it back.
 */
export interface DocumentHooks {
  postBalance?(client: PoolClient, inv: FinalizedInvoice): Promise<void>;
  postCredit?(client: PoolClient, note: IssuedCreditNote): Promise<void>;
}

export const DEFAULT_SERIES = { invoice: 'INV', statement: 'STM', credit_note: 'CN' } as const;
