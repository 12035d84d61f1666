import fs from 'node:fs';
import { removeUnlessReplaced } from './atomic.ts';
import { TasksError, isErrno } from './errors.ts';
import { isRunning, readStat, sleep } from './proc.ts';

/** A held lock; release() removes it. */
export interface Held { release(): void }

/**
 * Takes an exclusive lock file with an atomic create (open 'wx'), recording pid and start time.
 * A lock whose holder is gone (or whose pid now names another process) is broken; breaking moves
 * the file aside first and puts it back if it turns out to be a fresh holder's, so two breakers
 * never both win.
 */
export async function acquireLock(file: string, timeoutMs = 10_000): Promise<Held> {
  const me = readStat(process.pid);
  const content = `${process.pid}\n${me?.starttime ?? ''}\n`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, content);
      } finally {
        fs.closeSync(fd);
      }
      return { release: () => fs.rmSync(file, { force: true }) };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const seen = readQuiet(file);
    if (seen !== undefined && holderGone(file, seen)) breakLock(file, seen);
    else if (Date.now() > deadline) throw new TasksError(`could not lock ${file} within ${timeoutMs / 1000} s (held by pid ${seen?.split('\n')[0] ?? '?'})`);
    else await sleep(5 + Math.random() * 10);
  }
}

function readQuiet(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function holderGone(file: string, text: string): boolean {
  const [pidText, starttime] = text.split('\n');
  if (!pidText || !/^[1-9][0-9]*$/.test(pidText)) {
    // Empty or torn: the holder died between create and write, or is writing now. Give it 2 s.
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return st !== undefined && Date.now() - st.mtimeMs > 2000;
  }
  const pid = Number(pidText);
  if (!isRunning(pid)) return true;
  return starttime !== undefined && starttime !== '' && readStat(pid)?.starttime !== starttime;
}

function breakLock(file: string, seen: string): void {
  removeUnlessReplaced(file, (moved) => readQuiet(moved) !== seen);
}
