/** The `rate` command as users run it: a real process, JSON lines in, JSON lines out, in order. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

function cli(args: string[], input: string) {
  const r = spawnSync('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli rate', () => {
  it('answers one line per event, in order, and nothing else on stdout', () => {
    const input =
      readFileSync('tariffs/sample/events.jsonl', 'utf8') + '\nnot json\n{"id":"e2","tenant":"acme"}\n';
    const { code, stdout } = cli(['rate', '--tariff', 'tariffs/sample'], input);
    expect(code).toBe(0);
    const lines = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: unknown; cost?: string; error?: { code: string; field?: string } });
    const ids = input
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return (JSON.parse(l) as { id: unknown }).id;
        } catch {
          return null;
        }
      });
    expect(lines.map((l) => l.id)).toEqual(ids);
    expect(lines[0]).toMatchObject({ id: 'call-peak-london', cost: '0.2084', destination: 'UK_FIXED' });
    expect(lines.at(-3)!.error!.code).toBe('RATING_PLAN_NOT_FOUND');
    expect(lines.at(-2)!.error!.code).toBe('INVALID_EVENT');
    expect(lines.at(-1)!.error).toMatchObject({ code: 'INVALID_EVENT', field: 'category' });
  });

  it('gives the same prices from the CGRateS copy of the sample', () => {
    const input = readFileSync('tariffs/sample/events.jsonl', 'utf8');
    const native = cli(['rate', '--tariff', 'tariffs/sample'], input);
    const csv = cli(['rate', '--tariff', 'tariffs/sample-cgrates', '--timezone', 'Europe/London'], input);
    expect(csv.stdout).toBe(native.stdout);
  });

  it('refuses a bad tariff with every problem on stderr and exit code 2', () => {
    const { code, stdout, stderr } = cli(['rate', '--tariff', 'tests/fixtures'], '{}\n');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('refused');
  });

  it('explains its usage', () => {
    const { code, stderr } = cli(['rate'], '');
    expect(code).toBe(2);
    expect(stderr).toContain('--tariff DIR');
  });
});
