/** The piscina worker that renders PDFs (pdf-jobs.ts): canonical JSON in, bytes out (transferred). */
import { Piscina } from 'piscina';
import { renderPdf } from './pdf-render.js';

export interface PdfTask {
  document: Record<string, unknown>;
  hash: string;
}

export default async function render(task: PdfTask) {
  const bytes = await renderPdf(task.document, task.hash);
  return Piscina.move(bytes);
}
