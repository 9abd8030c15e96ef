/** Drafts for the document tests, built as the run builds them: the core's figures, then insertDraft. */
import type pg from 'pg';
import { buildDocument, type DraftLine } from '../../../src/billing/core/document.js';
import { insertDraft } from '../../../src/billing/documents/drafts.js';
import type { DraftInput } from '../../../src/billing/documents/model.js';
import { ensureDocumentsSchema } from '../../../src/billing/documents/schema.js';
import { inTransaction } from '../../../src/billing/documents/transaction.js';
import { testPostgres } from '../../support/postgres.js';

export function documentsDb() {
  const { pool, schema } = testPostgres();
  return { pool, schema, ready: () => ensureDocumentsSchema(pool, schema) };
}

/** A month of service: a fee, usage and a discount, taxed at 20 % (GBP unless said). */
export const SAMPLE_LINES: DraftLine[] = [
  {
    kind: 'fee',
    description: 'Plan S, December',
    exactNano: 15_000_000_000n,
    taxCode: 'VAT',
    rateMicros: 200_000n,
  },
  {
    kind: 'usage',
    description: 'Voice calls',
    quantity: '3600',
    unit: 's',
    exactNano: 4_123_456_789n,
    taxCode: 'VAT',
    rateMicros: 200_000n,
  },
  {
    kind: 'discount',
    description: 'Coupon WELCOME',
    exactNano: -1_500_000_000n,
    taxCode: 'VAT',
    rateMicros: 200_000n,
  },
];

export function draftOf(
  tenant: string,
  accountId: string,
  billSeq: number | null,
  over: Partial<DraftInput> & { lines?: DraftLine[] } = {},
): DraftInput {
  const currency = over.currency ?? 'GBP';
  const figures = buildDocument(over.lines ?? SAMPLE_LINES, { currency, mode: 'per_rate' });
  return {
    tenant,
    accountId,
    billSeq,
    documentType: 'invoice',
    periodStart: Date.parse('2026-11-01T00:00:00Z'),
    periodEnd: Date.parse('2026-12-01T00:00:00Z'),
    cutoffAt: Date.parse('2026-12-02T00:00:00Z'),
    currency,
    seller: {
      legalName: 'Acme Telecom Ltd',
      address: ['1 High St', 'London'],
      country: 'GB',
      taxId: 'GB123456789',
    },
    buyer: { legalName: `Customer ${accountId}`, address: ['2 Low St'], country: 'GB' },
    figures,
    ...over,
  };
}

export const addDraft = (pool: pg.Pool, schema: string, d: DraftInput) =>
  inTransaction(pool, (c) => insertDraft(c, schema, d));
