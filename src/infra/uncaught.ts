/**
 * What an error no caller caught does to the engine. A Redis or PostgreSQL that went away (a
 * dropped connection surfacing outside any request) is a warning and the engine goes on: requests
 * answer 503 and background jobs retry until it is back. Anything else is a bug: logged loudly,
 * then the engine shuts down cleanly and exits 1.
 */
import { isUnavailable } from './unavailable.js';

export interface UncaughtLog {
  warn(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

export function handleUncaught(log: UncaughtLog, shutdown: (err: unknown) => Promise<void>): void {
  const handle = (err: unknown) => {
    if (isUnavailable(err)) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'Redis or PostgreSQL went away outside any request; going on',
      );
      return;
    }
    log.fatal({ err }, 'an error no code caught: shutting down');
    void shutdown(err).finally(() => process.exit(1));
  };
  process.on('uncaughtException', handle);
  process.on('unhandledRejection', handle);
}
