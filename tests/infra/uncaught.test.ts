/** An uncaught dependency error does not end the engine; a bug does, after a clean shutdown. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('uncaught errors', () => {
  it('go on after Redis or PostgreSQL errors, shut down with exit 1 after a bug', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./uncaught-child.ts', import.meta.url))],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'warn: Redis or PostgreSQL went away outside any request; going on',
      'warn: Redis or PostgreSQL went away outside any request; going on',
      'still up',
      'fatal: an error no code caught: shutting down',
      'shutdown',
    ]);
    expect(r.status).toBe(1);
  });
});
