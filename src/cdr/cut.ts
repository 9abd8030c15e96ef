/**
 * Cuts a stream of bytes into chunks of whole lines, in linear time whatever the lines are: each
 * byte is looked at once and copied once (into its chunk). A line longer than the limit is dropped
 * as it streams in, down to its line break, and becomes a LINE_TOO_LONG reject: a 300 MB line
 * without a break neither fills memory nor holds the import.
 */
import type { CdrReject } from './format.js';

/** The longest line a CDR file may have, unless configured (CDR_MAX_LINE_BYTES). */
export const DEFAULT_MAX_LINE_BYTES = 64 << 10;

/** How much of a line too long its reject keeps, to show what it was. */
const HEAD_BYTES = 256;

/** A dropped line leaves its line break, so the lines after it keep their numbers. */
const LINE_BREAK = Buffer.from('\n');

export interface CutChunk {
  /** Whole lines (a dropped one as an empty line), UTF-8, in a buffer of their own. */
  bytes: ArrayBuffer;
  /** The 1-based number of the chunk's first line, and how many lines it has. */
  firstLine: number;
  lines: number;
  /** The chunk's lines that were too long. */
  rejects: CdrReject[];
}

export class LineCutter {
  /** Whole lines not yet in a chunk: their buffers, and their bytes and count as lines end. */
  private whole: Buffer[] = [];
  private wholeBytes = 0;
  private wholeLines = 0;
  /** The start of the current line, from earlier pushes (while it is not too long). */
  private partial: Buffer[] = [];
  private lineBytes = 0;
  /** The current line is too long: its bytes are dropped down to its line break. */
  private skipping = false;
  private skippedHead = '';
  private rejects: CdrReject[] = [];
  private out: CutChunk[] = [];

  constructor(
    private readonly chunkBytes: number,
    private readonly maxLineBytes: number,
    /** The number of the first line to come. */
    private firstLine: number,
  ) {}

  /** The next bytes of the stream; returns the chunks they complete. */
  push(d: Buffer): CutChunk[] {
    let run = 0; // d[run, from) are whole lines kept but not yet added
    let from = 0; // where the current line starts in d (0 also when it began in an earlier push)
    for (;;) {
      const nl = d.indexOf(10, from);
      const end = nl < 0 ? d.length : nl;
      const len = this.lineBytes + end - from;
      if (!this.skipping && len > this.maxLineBytes) {
        this.add(d.subarray(run, from));
        run = from;
        this.skip(d.subarray(from, Math.min(end, from + HEAD_BYTES)));
      }
      if (nl < 0) {
        if (!this.skipping) {
          this.add(d.subarray(run, from));
          if (end > from) this.partial.push(d.subarray(from, end));
        }
        this.lineBytes = len;
        return this.take();
      }
      const lineBytes = this.skipping ? 1 : len + 1;
      if (this.wholeLines > 0 && this.wholeBytes + lineBytes > this.chunkBytes) {
        this.add(d.subarray(run, from));
        run = from;
        this.cut();
      }
      if (this.skipping) {
        this.add(LINE_BREAK);
        run = nl + 1;
      }
      this.endLine(lineBytes);
      from = nl + 1;
    }
  }

  /** The end of the stream: a last line without a line break is a line too. */
  end(): CutChunk[] {
    if (this.skipping || this.partial.length) {
      const lineBytes = this.skipping ? 1 : this.lineBytes;
      if (this.wholeLines > 0 && this.wholeBytes + lineBytes > this.chunkBytes) this.cut();
      if (this.skipping) this.add(LINE_BREAK);
      this.endLine(lineBytes);
    }
    if (this.wholeLines > 0) this.cut();
    return this.take();
  }

  private add(b: Buffer): void {
    if (b.length) this.whole.push(b);
  }

  /** Drops the current line from here on; `head` is where it is in the latest push. */
  private skip(head: Buffer): void {
    this.skippedHead = Buffer.concat([...this.partial, head]).toString('utf8', 0, HEAD_BYTES);
    this.partial = [];
    this.skipping = true;
  }

  /** The current line ended (its bytes are added, or are being added in a run). */
  private endLine(lineBytes: number): void {
    const line = this.firstLine + this.wholeLines;
    if (this.skipping) {
      this.rejects.push({
        line,
        reason: 'LINE_TOO_LONG',
        detail: `the line is longer than ${this.maxLineBytes} bytes`,
        raw: `${this.skippedHead}…`,
      });
      this.skipping = false;
    } else if (this.partial.length) {
      // The line began in an earlier push: its start goes before the bytes of this one.
      this.whole.push(...this.partial);
      this.partial = [];
    }
    this.wholeBytes += lineBytes;
    this.wholeLines++;
    this.lineBytes = 0;
  }

  private cut(): void {
    let size = 0;
    for (const b of this.whole) size += b.length;
    const bytes = new ArrayBuffer(size);
    const view = new Uint8Array(bytes);
    let at = 0;
    for (const b of this.whole) {
      view.set(b, at);
      at += b.length;
    }
    this.out.push({ bytes, firstLine: this.firstLine, lines: this.wholeLines, rejects: this.rejects });
    this.firstLine += this.wholeLines;
    this.whole = [];
    this.wholeBytes = 0;
    this.wholeLines = 0;
    this.rejects = [];
  }

  private take(): CutChunk[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}
