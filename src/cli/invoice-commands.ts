/**
 * `cli invoices show|export|render-pdf`: the documents routes' own code (billing/documents/read.ts,
 * export.ts, pdf-render.ts) on the engine's PostgreSQL, for billing staff at a terminal or in cron.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { Pool } from 'pg';
import { exportDocuments } from '../billing/documents/export.js';
import { renderPdf } from '../billing/documents/pdf-render.js';
import { getInvoice } from '../billing/documents/read.js';
import { checkSchema } from '../billing/run/schema.js';
import { withHistory } from './engine.js';

/** The invoice's id from its id or its number, or null. */
async function invoiceId(
  pool: Pool,
  schema: string,
  tenant: string,
  idOrNumber: string,
): Promise<string | null> {
  const r = await pool.query<{ id: string }>(
    `SELECT id FROM ${checkSchema(schema)}.invoices WHERE tenant = $1 AND (id::text = $2 OR number = $2)`,
    [tenant, idOrNumber],
  );
  return r.rows[0]?.id ?? null;
}

const missing = (what: string, tenant: string) => {
  process.stderr.write(`no invoice ${what} in tenant ${tenant}\n`);
  return 1;
};

export async function invoicesShowCommand(idOrNumber: string, tenant: string): Promise<number> {
  return withHistory(async (pool, schema) => {
    const id = await invoiceId(pool, schema, tenant, idOrNumber);
    const inv = id ? await getInvoice(pool, schema, { tenant }, id) : undefined;
    if (!inv) return missing(idOrNumber, tenant);
    process.stdout.write(`${JSON.stringify(inv)}\n`);
    return 0;
  });
}

export async function invoicesExportCommand(o: {
  from: string;
  to: string;
  format: 'csv' | 'json';
  tenant: string;
}): Promise<number> {
  return withHistory(async (pool, schema) => {
    const format = o.format === 'json' ? 'jsonl' : 'csv';
    const rows = exportDocuments(pool, schema, o.tenant, { from: o.from, to: o.to, format });
    for await (const chunk of rows)
      if (!process.stdout.write(chunk as string)) await once(process.stdout, 'drain');
    return 0;
  });
}

export async function invoicesRenderPdfCommand(
  idOrNumber: string,
  out: string,
  tenant: string,
): Promise<number> {
  return withHistory(async (pool, schema) => {
    const id = await invoiceId(pool, schema, tenant, idOrNumber);
    if (!id) return missing(idOrNumber, tenant);
    const r = await pool.query<{ document: Record<string, unknown> | null; hash: string | null }>(
      `SELECT canonical_json AS document, document_hash AS hash FROM ${checkSchema(schema)}.invoices WHERE id = $1`,
      [id],
    );
    const { document, hash } = r.rows[0]!;
    if (!document || !hash) {
      process.stderr.write(`invoice ${idOrNumber} is a draft: it has no PDF until it is finalized\n`);
      return 1;
    }
    const bytes = await renderPdf(document as Parameters<typeof renderPdf>[0], hash);
    await writeFile(out, bytes);
    process.stdout.write(`${JSON.stringify({ id, out, bytes: bytes.length, hash })}\n`);
    return 0;
  });
}
