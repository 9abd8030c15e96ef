/**
 * Ctrl-C and `kill` for long commands. An import asks to stop cleanly on the first SIGINT or
 * SIGTERM (an AbortSignal: it finishes what is in flight and says what it did) and quits at once on
 * a second; a command whose next run finishes what it began (rerate) quits at once. Either way the
 * exit code is STOPPED, and nothing is lost: what a quit left in flight is given back or finished
 * by the next run.
 */

import { isUnavailable } from '../infra/unavailable.js';

/** Exit code of a command that stopped before its end (Ctrl-C, an outage): run it again to go on. */
export const STOPPED = 3;

/**
 * Redis or PostgreSQL not answering ends a command with STOPPED, saying so and `advice` (what a
 * rerun does); any other error is thrown on (a bug: exit 1).
 */
export function stoppedByOutage(err: unknown, command: string, advice: string): number {
  if (!isUnavailable(err)) throw err;
  const why = err instanceof Error ? err.message : String(err);
  process.stderr.write(`\n${command} stopped: Redis or PostgreSQL is not answering (${why}).\n${advice}.\n`);
  return STOPPED;
}

/** Handles SIGINT and SIGTERM until the returned function is called. */
function onSignals(handle: (name: NodeJS.Signals) => void): () => void {
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return () => {
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
  };
}

export interface Stopper {
  signal: AbortSignal;
  /** Restores the default handling (call when the command is done). */
  dispose(): void;
}

export function stopOnSignals(what: string, stderr: NodeJS.WritableStream = process.stderr): Stopper {
  const controller = new AbortController();
  const dispose = onSignals((name) => {
    if (controller.signal.aborted) {
      stderr.write(`\n${name} again: quitting now; the next run gives back what was in flight\n`);
      process.exit(STOPPED);
    }
    stderr.write(`\n${name}: stopping after ${what} (press Ctrl-C again to quit at once)\n`);
    controller.abort();
  });
  return { signal: controller.signal, dispose };
}

/** Quits at once on SIGINT or SIGTERM, saying `why` that is safe; returns how to stop listening. */
export function quitOnSignals(why: string, stderr: NodeJS.WritableStream = process.stderr): () => void {
  return onSignals((name) => {
    stderr.write(`\n${name}: quitting; ${why}\n`);
    process.exit(STOPPED);
  });
}
