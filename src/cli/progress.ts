/**
 * Progress of a long command on stderr: a bar on a terminal; elsewhere (cron, a log file, a pipe)
 * a plain time-stamped line every few seconds, since a bar's carriage returns make a log unreadable.
 */
import { SingleBar } from 'cli-progress';

/** Seconds between progress lines when stderr is not a terminal, unless --progress-seconds says. */
export const PROGRESS_SECONDS = 5;

export interface Progress {
  /** `done` of `total` (bytes, rows) and a short status, e.g. "12,000 stored, 3 rejected". */
  update(done: number, status: string): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  /** Unknown (0): no bar, only lines. */
  total: number;
  /** Seconds between lines; 0: no progress at all. */
  everySeconds: number;
  stream?: NodeJS.WriteStream;
}

export function startProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  if (o.everySeconds === 0) return { update: () => undefined, stop: () => undefined };
  if (stream.isTTY && o.total > 0) return progressBar(o.label, o.total, stream);
  return progressLines(o.label, o.total, o.everySeconds, stream);
}

function progressBar(label: string, total: number, stream: NodeJS.WriteStream): Progress {
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | ETA {eta}s | {status}`, stream });
  bar.start(total, 0, { status: '' });
  return { update: (done, status) => bar.update(done, { status }), stop: () => bar.stop() };
}

/** A line on a timer (not per update), so a stalled command shows it is stalled. */
function progressLines(
  label: string,
  total: number,
  everySeconds: number,
  stream: NodeJS.WritableStream,
): Progress {
  let latest: { done: number; status: string } | null = null;
  const started = Date.now();
  const timer = setInterval(() => {
    if (!latest) return;
    const percent = total > 0 ? ` ${Math.floor((latest.done / total) * 100)}%,` : '';
    const seconds = Math.round((Date.now() - started) / 1000);
    stream.write(`${new Date().toISOString()} ${label}:${percent} ${latest.status} (${seconds} s)\n`);
  }, everySeconds * 1000);
  timer.unref();
  return {
    update: (done, status) => void (latest = { done, status }),
    stop: () => clearInterval(timer),
  };
}
