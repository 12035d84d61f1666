// Capped log files with one rotated copy, tails, and following a file.
import fs from 'node:fs';
import { delay } from './delay.ts';
import { isErrno } from './errors.ts';

/** Default cap of a daemon log before it is rotated to <log>.1. */
export const LOG_MAX_BYTES = 1024 * 1024;

/**
 * Returns a line writer for a daemon's stdout. When stdout is a regular file (a detached daemon),
 * the file is capped: past maxBytes its content is copied to <path>.1 and the file truncated in
 * place, so the fds the daemon was started with (stdout and stderr, O_APPEND) stay valid and a
 * crash trace still lands in the live log.
 */
export function lineWriter(fd: number, logPath: string | undefined, maxBytes: number): (line: string) => void {
  const capped = logPath !== undefined && sameFile(fd, logPath);
  let dropped = 0;
  const write = (data: string): void => {
    if (capped && fs.fstatSync(fd).size + data.length > maxBytes) {
      // Rotation is best effort: with no room for the copy, truncating alone still frees the space.
      try {
        fs.copyFileSync(logPath, `${logPath}.1`);
      } catch (err) {
        if (!isErrno(err, 'ENOSPC') && !isErrno(err, 'EDQUOT') && !isErrno(err, 'EIO')) throw err;
      }
      fs.ftruncateSync(fd, 0);
    }
    fs.writeSync(fd, data);
  };
  return (line: string): void => {
    const data = line.endsWith('\n') ? line : line + '\n';
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

/** The last n lines of a file ('' when it does not exist). */
export function tailLines(file: string, n: number): string {
  let data: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      data = Buffer.alloc(len);
      fs.readSync(fd, data, 0, len, size - len);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return '';
    throw err;
  }
  const lines = data.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n).join('\n');
}

/**
 * Follows a file like `tail -f`, calling onData with each new chunk, surviving truncation
 * (rotation) and the file appearing later. Stops when the signal aborts.
 */
export async function followFile(file: string, from: number, onData: (text: string) => void, signal: AbortSignal, pollMs = 200): Promise<void> {
  let offset = from;
  while (!signal.aborted) {
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (size < offset) offset = 0;
    if (size > offset) {
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        onData(buf.toString('utf8'));
      } finally {
        fs.closeSync(fd);
      }
    }
    await delay(pollMs, signal);
  }
}

/** True when fd is the regular file at path (a detached daemon's log), not a terminal or pipe. */
function sameFile(fd: number, file: string): boolean {
  const a = fs.fstatSync(fd);
  const b = fs.statSync(file, { throwIfNoEntry: false });
  return a.isFile() && b !== undefined && a.ino === b.ino && a.dev === b.dev;
}
