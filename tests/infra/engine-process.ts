/**
 * The engine as operators run it (`src/main.ts` in its own process), for tests of what happens to
 * the process itself: outages, uncaught errors, signals. Its logs (pino JSON on stdout, start-up
 * lines on stderr) are kept for the test to read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface EngineProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Everything it wrote so far, stdout and stderr. */
  output(): string;
  /** The pino lines it logged so far. */
  logs(): { level: number; msg: string; [k: string]: unknown }[];
  /** Resolves with its exit code (or the signal that ended it). */
  exited: Promise<number | string>;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

export async function startEngine(env: Record<string, string>, startMs = 90_000): Promise<EngineProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((ok) =>
    child.once('exit', (code, signal) => ok(code ?? signal ?? 'unknown')),
  );
  const listening = new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the engine did not start:\n${out}`)), startMs);
    const check = () => {
      if (!out.includes('OCS engine listening')) return;
      clearTimeout(timer);
      ok();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`the engine exited (${code}) while starting:\n${out}`));
    });
  });
  await listening;
  return {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => out,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
    exited,
  };
}
