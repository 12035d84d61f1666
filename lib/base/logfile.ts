// Capped log files with one rotated copy (written lines escaped), daemon logs opened for a start, tails, and following a file.
import fs from 'node:fs';
import { writeChunksAtomic } from './atomic.ts';
import { escapeControls } from './controls.ts';
import { delay } from './delay.ts';
import { TasksError, isErrno } from './errors.ts';
import { NotAFileError, openRegular } from './jsonfile.ts';
import { openAppend } from './nofollow.ts';
import { shellWord } from './shellword.ts';

/** Default cap of a daemon log before it is rotated to <log>.1. */
export const LOG_MAX_BYTES = 1024 * 1024;

/** The log cap: TASKS_LOG_MAX_BYTES (at least 1 KiB, for tests), else 1 MiB. */
export function logCap(env: Readonly<Record<string, string | undefined>>): number {
  const n = Number(env.TASKS_LOG_MAX_BYTES);
  return Number.isSafeInteger(n) && n >= 1024 ? n : LOG_MAX_BYTES;
}

/** Most bytes of one log line (its newline aside): a longer one is cut and says how much more it had. */
export const LOG_LINE_MAX_BYTES = 4096;

/**
 * One log line as written: every control character escaped (escapeControls), so an id or a title
 * (text from files anyone can write) never splits the line, forges another, or reaches a terminal
 * raw; then the one newline that ends it. A multi-line message (a stack) becomes one line. A line
 * past LOG_LINE_MAX_BYTES keeps its start and ends with `…(N bytes more)`: no single line (a
 * 3 MB id, a huge dispatch command) can take a log past its cap.
 */
export function logLine(text: string): string {
  return `${boundLine(text.endsWith('\n') ? text.slice(0, -1) : text)}\n`;
}

function boundLine(text: string): string {
  // Escaping only grows text, so this many characters always fill the budget: a 3 MB text is never escaped whole.
  const head = escapeControls(text.slice(0, LOG_LINE_MAX_BYTES));
  const restBytes = text.length > LOG_LINE_MAX_BYTES ? Buffer.byteLength(text.slice(LOG_LINE_MAX_BYTES)) : 0;
  const headBytes = Buffer.byteLength(head);
  if (restBytes === 0 && headBytes <= LOG_LINE_MAX_BYTES) return head;
  const buf = Buffer.from(head);
  // Room for the note (at most 27 bytes); never cut inside a UTF-8 sequence.
  let keep = LOG_LINE_MAX_BYTES - 32;
  while (keep > 0 && ((buf[keep] ?? 0) & 0xc0) === 0x80) keep--;
  return `${buf.subarray(0, keep).toString('utf8')}…(${headBytes - keep + restBytes} bytes more)`;
}

/**
 * Returns a line writer for a daemon's stdout. Each line goes through logLine: this is the one
 * place log lines are escaped, whoever writes them. When stdout is a regular file (a detached
 * daemon), the file is capped: past maxBytes its content is copied to <path>.1 and the file
 * truncated in place, so the fds the daemon was started with (stdout and stderr, O_APPEND) stay
 * valid and a crash trace still lands in the live log.
 */
export function lineWriter(fd: number, logPath: string | undefined, maxBytes: number): (line: string) => void {
  const capped = logPath !== undefined && sameFile(fd, logPath);
  let dropped = 0;
  const write = (data: string): void => {
    if (capped && fs.fstatSync(fd).size + Buffer.byteLength(data) > maxBytes) rotateLog(fd, logPath, maxBytes);
    fs.writeSync(fd, data);
  };
  return (line: string): void => {
    const data = logLine(line);
    // A full disk or a failing device costs log lines, never the daemon: count what was lost and
    // say so once writing works again.
    try {
      if (dropped) write(`(${dropped} log line${dropped === 1 ? '' : 's'} lost while the log could not be written)\n`);
      dropped = 0;
      write(data);
    } catch (err) {
      if (!isErrno(err, 'ENOSPC') && !isErrno(err, 'EDQUOT') && !isErrno(err, 'EIO') && !isErrno(err, 'EAGAIN')) throw err;
      dropped += 1;
    }
  };
}

/**
 * Opens a daemon's log for its stdout and stderr: appended to, never through a link (openAppend).
 * A daemon that crashes at start writes its trace straight into this file, past the cap its own
 * line writer keeps, so a start begins with at most half the cap in it (older lines rotated to
 * .1): a trace of up to half the cap never takes the log past the cap, and trimLog after a failed
 * start cuts a larger one. Anything but a file in its place is a TasksError saying what to
 * remove. The folders above are the caller's to check.
 */
export function openDaemonLog(logPath: string, maxBytes: number): number {
  let fd: number;
  try {
    fd = openAppend(logPath);
  } catch (err) {
    // A repository can commit a folder (or make a FIFO) in a log's place: the operator's to remove, said in one line.
    if (!(err instanceof NotAFileError)) throw err;
    throw new TasksError(`${err.message}; remove it (rm${err.kind === 'a folder' ? ' -r' : ''} ${shellWord(logPath)}) and run again`);
  }
  try {
    if (fs.fstatSync(fd).size > maxBytes / 2) rotateLog(fd, logPath, maxBytes);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** After a daemon died during start: a log its trace took past the cap is rotated, its last maxBytes kept in .1. */
export function trimLog(logPath: string, maxBytes: number): void {
  const opened = openQuiet(logPath);
  if (opened === undefined) return;
  fs.closeSync(opened.fd);
  if (opened.st.size <= maxBytes) return;
  const fd = openAppend(logPath);
  try {
    rotateLog(fd, logPath, maxBytes);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Moves a log's last `keepBytes` (from a line start when there is one) to <log>.1, atomically (a
 * link in the .1's place is replaced, never written through), and truncates the log in place: the
 * daemon's descriptors stay valid. Rotation is best effort: with no room for the copy, truncating
 * alone still frees the space.
 */
function rotateLog(fd: number, logPath: string, keepBytes: number): void {
  try {
    const tail = lastBytes(fd, logPath, keepBytes);
    if (tail !== undefined) writeChunksAtomic(`${logPath}.1`, [tail]);
  } catch (err) {
    if (!isErrno(err, 'ENOSPC') && !isErrno(err, 'EDQUOT') && !isErrno(err, 'EIO')) throw err;
  }
  fs.ftruncateSync(fd, 0);
}

/** The last `keep` bytes of the log open as fd (read through its path: fd may be write-only), or undefined when the path is another file now. */
function lastBytes(fd: number, logPath: string, keep: number): Buffer | undefined {
  const src = openRegular(logPath);
  if (src === undefined) return undefined;
  try {
    const mine = fs.fstatSync(fd);
    if (src.st.ino !== mine.ino || src.st.dev !== mine.dev) return undefined;
    const from = Math.max(0, src.st.size - keep);
    const buf = Buffer.alloc(src.st.size - from);
    const got = fs.readSync(src.fd, buf, 0, buf.length, from);
    const data = buf.subarray(0, got);
    const nl = from > 0 ? data.indexOf(10) : -1;
    return nl >= 0 && nl < data.length - 1 ? data.subarray(nl + 1) : data;
  } finally {
    fs.closeSync(src.fd);
  }
}

/** The last n lines of a log, topped up from its rotated copy (<file>.1) when it has fewer ('' when neither exists; a link is not followed). */
export function tailLines(file: string, n: number): string {
  const lines = lastLines(file, n);
  if (lines.length < n) lines.unshift(...lastLines(`${file}.1`, n - lines.length));
  return lines.join('\n');
}

function lastLines(file: string, n: number): string[] {
  const opened = openQuiet(file);
  if (opened === undefined) return [];
  let data: Buffer;
  try {
    const size = opened.st.size;
    const len = Math.min(size, 64 * 1024);
    data = Buffer.alloc(len);
    fs.readSync(opened.fd, data, 0, len, size - len);
  } finally {
    fs.closeSync(opened.fd);
  }
  const lines = data.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return n > 0 ? lines.slice(-n) : [];
}

/** openRegular, with a missing file, a link or a non-file read as no file. */
function openQuiet(file: string): { fd: number; st: fs.Stats } | undefined {
  try {
    return openRegular(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO')) return undefined;
    throw err;
  }
}

/**
 * Follows a file like `tail -f`, calling onData with each new chunk, surviving truncation
 * (rotation) and the file appearing later. A link in its place is not followed. Stops when the
 * signal aborts.
 */
export async function followFile(file: string, from: number, onData: (text: string) => void, signal: AbortSignal, pollMs = 200): Promise<void> {
  let offset = from;
  while (!signal.aborted) {
    const opened = openQuiet(file);
    if (opened !== undefined) {
      try {
        const size = opened.st.size;
        if (size < offset) offset = 0;
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          const got = fs.readSync(opened.fd, buf, 0, buf.length, offset);
          offset += got;
          onData(buf.subarray(0, got).toString('utf8'));
        }
      } finally {
        fs.closeSync(opened.fd);
      }
    }
    await delay(pollMs, signal);
  }
}

/** True when fd is the regular file at path (a detached daemon's log), not a terminal or pipe. */
function sameFile(fd: number, file: string): boolean {
  const a = fs.fstatSync(fd);
  const b = fs.lstatSync(file, { throwIfNoEntry: false });
  return a.isFile() && b !== undefined && b.isFile() && a.ino === b.ino && a.dev === b.dev;
}
