/**
 * Ctrl-C and `kill` for long commands: the first SIGINT or SIGTERM asks the command to stop cleanly
 * (an AbortSignal: it finishes what is in flight and says what it did); a second one quits at once.
 * Either way the exit code is STOPPED, and nothing is lost: what a quit left in flight is given
 * back by the next run.
 */

/** Exit code of a command that stopped before its end (Ctrl-C, an outage): run it again to go on. */
export const STOPPED = 3;

export interface Stopper {
  signal: AbortSignal;
  /** Restores the default handling (call when the command is done). */
  dispose(): void;
}

export function stopOnSignals(what: string, stderr: NodeJS.WritableStream = process.stderr): Stopper {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      stderr.write(`\n${name} again: quitting now; the next run gives back what was in flight\n`);
      process.exit(STOPPED);
    }
    stderr.write(`\n${name}: stopping after ${what} (press Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
