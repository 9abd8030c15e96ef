/**
 * Reads CGRateS-style CSV: comma separated, `#` comment lines (the header is one), blank lines
 * ignored, double quotes honoured when present. Lines are numbered from 1 as in an editor.
 */

export interface CsvRow {
  line: number;
  fields: string[];
}

function splitQuoted(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    let raw = text.slice(start, end);
    start = end + 1;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = raw.includes('"') ? splitQuoted(raw) : raw.split(',');
    rows.push({ line, fields: fields.map((f) => f.trim()) });
  }
  return rows;
}
