/** A refused tariff: every problem found, each naming where it is (file, line or JSON path, field). */

export interface Problem {
  file: string;
  line?: number;
  path?: string;
  field?: string;
  message: string;
}

export class TariffError extends Error {
  readonly code = 'INVALID_TARIFF';

  constructor(readonly problems: Problem[]) {
    super(
      `invalid tariff: ${problems.length} problem${problems.length === 1 ? '' : 's'}; first: ${describe(problems[0])}`,
    );
    this.name = 'TariffError';
  }
}

export function describe(p: Problem | undefined): string {
  if (!p) return '';
  const where = [
    p.file,
    p.line !== undefined ? `line ${p.line}` : '',
    p.path ?? '',
    p.field ? `field ${p.field}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${where}: ${p.message}`;
}
