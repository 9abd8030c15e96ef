/**
 * A document's PDF, drawn with pdfkit from its canonical JSON alone (what was hashed is what is
 * printed). The same document renders to the same bytes: the creation date is the issue date and
 * pdfkit's file id is derived from the document info, so nothing random or clock-bound is written.
 * Standard Helvetica (WinAnsi): text outside Latin-1 prints as it can. No I/O; runs in a worker.
 */
import PDFDocument from 'pdfkit';

type Doc = Record<string, unknown> & {
  lines?: Record<string, unknown>[];
  tax_summary?: Record<string, unknown>[];
};
type Party = { legalName?: string; address?: string[]; country?: string; taxId?: string } | null | undefined;

const TITLES: Record<string, string> = {
  invoice: 'Invoice',
  statement: 'Statement',
  credit_note: 'Credit note',
};
const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));

function party(pdf: PDFKit.PDFDocument, label: string, p: Party, x: number, y: number) {
  const lines = [
    p?.legalName,
    ...(p?.address ?? []),
    p?.country,
    p?.taxId ? `Tax id: ${p.taxId}` : undefined,
  ];
  pdf.font('Helvetica-Bold').fontSize(9).text(label, x, y);
  pdf.font('Helvetica').text(lines.filter(Boolean).join('\n'), x, y + 12, { width: 240 });
}

function row(pdf: PDFKit.PDFDocument, y: number, cells: string[], bold = false) {
  const xs = [50, 300, 360, 430, 490];
  const widths = [245, 55, 65, 55, 55];
  pdf.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8);
  cells.forEach((c, i) =>
    pdf.text(c, xs[i], y, { width: widths[i], align: i === 0 ? 'left' : 'right', lineBreak: false }),
  );
}

function lines(pdf: PDFKit.PDFDocument, d: Doc, top: number): number {
  let y = top;
  row(pdf, y, ['Description', 'Quantity', 'Amount', 'Tax rate', 'Tax'], true);
  for (const l of d.lines ?? []) {
    y += 14;
    if (y > 740) {
      pdf.addPage();
      y = 50;
    }
    const qty = l.quantity ? `${text(l.quantity)} ${text(l.unit)}`.trim() : '';
    row(pdf, y, [text(l.description), qty, text(l.amount), text(l.tax_rate), text(l.tax)]);
  }
  return y + 24;
}

/** A tax entry's legal mention (exemption, reverse charge, a rate's article), in full and wrapped. */
function legalText(pdf: PDFKit.PDFDocument, mention: string, y: number): number {
  if (!mention) return y;
  pdf.font('Helvetica-Oblique').fontSize(8).text(mention, 50, y, { width: 495 });
  return y + pdf.heightOfString(mention, { width: 495 }) + 4;
}

function totals(pdf: PDFKit.PDFDocument, d: Doc, top: number) {
  let y = top;
  const cur = text(d.currency);
  for (const [label, v] of [
    ['Total before tax', d.total_amount],
    ['Tax', d.total_tax],
    ['Total', d.total],
  ] as const) {
    pdf.font(label === 'Total' ? 'Helvetica-Bold' : 'Helvetica').fontSize(10);
    pdf.text(`${label}: ${text(v)} ${cur}`, 300, y, { width: 245, align: 'right' });
    y += 14;
  }
  for (const t of d.tax_summary ?? []) {
    pdf
      .font('Helvetica')
      .fontSize(8)
      .text(`Tax ${text(t.rate)} on ${text(t.base)}: ${text(t.tax)}`, 50, y);
    y += 12;
    y = legalText(pdf, text(t.legal_text), y);
  }
  return y;
}

/** The PDF bytes of a canonical document (invoice, statement or credit note). */
export function renderPdf(d: Doc, hash: string): Promise<Uint8Array> {
  const type = text(d.document_type);
  const number = text(d.invoice_number ?? d.credit_note_number);
  const pdf = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: {
      CreationDate: new Date(`${text(d.date)}T00:00:00Z`),
      Title: `${TITLES[type] ?? type} ${number}`,
      Creator: 'OCS engine',
    },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Uint8Array>((resolve, reject) => {
    pdf.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    pdf.on('error', reject);
  });
  pdf
    .font('Helvetica-Bold')
    .fontSize(18)
    .text(`${TITLES[type] ?? type} ${number}`, 50, 50);
  const dates = [`Date: ${text(d.date)}`];
  if (d.due_date) dates.push(`Due: ${text(d.due_date)}`);
  if (d.start_date) dates.push(`Period: ${text(d.start_date)} to ${text(d.end_date)}`);
  if (d.invoice_number && type === 'credit_note')
    dates.push(`Corrects invoice ${text(d.invoice_number)} of ${text(d.invoice_date)}`);
  if (d.reason) dates.push(`Reason: ${text(d.reason)}`);
  pdf.font('Helvetica').fontSize(9).text(dates.join('\n'), 50, 76);
  party(pdf, 'From', d.seller as Party, 50, 140);
  party(pdf, 'To', d.client as Party, 305, 140);
  const y = totals(pdf, d, lines(pdf, d, 240));
  pdf
    .font('Helvetica')
    .fontSize(6)
    .text(
      `SHA-256 ${hash}${d.prev_hash ? `  previous ${text(d.prev_hash)}` : ''}`,
      50,
      Math.max(y + 20, 780),
      { lineBreak: false },
    );
  pdf.end();
  return done;
}
