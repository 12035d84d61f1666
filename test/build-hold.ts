// Holding the server's build thread in a test: a FIFO where registry.json belongs, released by the test.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Folder, waitUntil } from './helpers.ts';

/**
 * Holds the build thread: a FIFO where registry.json belongs blocks the thread's read of it (the
 * server's own thread never reads it), so the test decides when the build may finish. release()
 * waits for the thread to open it (or for `gone`: the server ended first), puts a plain registry
 * in its place, then ends the waiting read.
 */
export function holdBuild(t: Folder): { release: (gone?: () => boolean) => Promise<void> } {
  const state = path.join(t.dir, 'logs', 'task_manager');
  fs.mkdirSync(state, { recursive: true });
  const fifo = path.join(state, 'registry.json');
  execFileSync('mkfifo', [fifo]);
  const registry = '{"version":1,"claims":{},"history":[],"holds":{}}\n';
  return {
    release: async (gone = () => false) => {
      let fd: number | undefined;
      // Non-blocking: opening a FIFO to write fails (ENXIO) until a reader has it open.
      await waitUntil(() => {
        try {
          fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
          return gone();
        }
      }, 'the build thread to read registry.json');
      fs.writeFileSync(`${fifo}.plain`, registry);
      fs.renameSync(`${fifo}.plain`, fifo); // any later open gets the plain file
      if (fd !== undefined) {
        fs.writeSync(fd, registry);
        fs.closeSync(fd);
      }
    },
  };
}
