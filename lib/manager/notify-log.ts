// The notifications' delivery log: one line per result (the format render-deliveries.ts reads back), capped with one rotated .1, opened on first use without following a link.
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders } from '../base/atomic.ts';
import { lineWriter } from '../base/logfile.ts';
import { openAppend } from '../base/nofollow.ts';

/** The delivery log of one notifier; undefined file: results go to the daemon's log. */
export class DeliveryLog {
  private write: ((line: string) => void) | undefined;
  private fd: number | undefined;
  private broken = false;
  /** Set by close(): results after it are not written anywhere. */
  private closed = false;

  constructor(private readonly file: string | undefined, private readonly maxBytes: number, private readonly log: (line: string) => void, private readonly now: () => Date) {}

  add(line: string): void {
    if (this.closed) return;
    try {
      this.writer()(line);
    } catch (err) {
      if (!this.broken) this.log(`${this.now().toISOString()} notify: the delivery log cannot be written (${(err as Error).message}); results go here`);
      this.broken = true;
      this.log(line);
    }
  }

  /** The writer goes with its descriptor: a late result must never be written into a file that reused the number. */
  close(): void {
    this.closed = true;
    this.write = undefined;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private writer(): (line: string) => void {
    if (this.write) return this.write;
    const file = this.file;
    if (file === undefined) return this.log;
    // The state folder is checked for links from <dir>/logs down; the file is opened without following one.
    makeFolders(path.dirname(file), 2);
    this.fd = openAppend(file);
    this.write = lineWriter(this.fd, file, this.maxBytes);
    return this.write;
  }
}

/** A delivery-log line: `<ISO> <ok|failed|dropped> <kind> id=<JSON or -> via <channel> attempt <n>: <reason>`. */
export function deliveryLine(at: Date, result: string, kind: string, id: string | null, channel: string, attempt: number, reason: string): string {
  return `${at.toISOString()} ${result} ${kind} id=${id === null ? '-' : jsonWord(id)} via ${channel} attempt ${attempt}: ${reason}`;
}

/**
 * An id as one JSON string that logLine leaves alone: JSON escapes C0 controls, and the rest
 * that logLine would escape (DEL, C1, line separators, bidi controls) become JSON's \u escapes
 * here, so the line stays one line and parses back.
 */
function jsonWord(id: string): string {
  return JSON.stringify(id).replace(/[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function seconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
