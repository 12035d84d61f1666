// Live run logs: the new bytes of the current claims' run logs, sent as `log` events to the pages that follow them.
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../../base/errors.ts';
import { readJsonFile } from '../../base/jsonfile.ts';
import type { RuntimePaths } from '../../base/paths.ts';
import type { Registry } from '../../manager/registry.ts';
import type { EventHub } from './events.ts';
import { inRunsFolder, logSources, openLog } from '../render/run-log.ts';

/** The most bytes of one log read per round: a flood is skipped over (the page refetches the gap), never buffered. */
const CHUNK_MAX = 256 * 1024;
/** Rounds run at most this often, however fast a log is written. */
const ROUND_GAP_MS = 40;

export interface LogStreamInput {
  readonly paths: Pick<RuntimePaths, 'registry' | 'runs'>;
  readonly hub: EventHub;
  readonly log: (line: string) => void;
  /** The poll that catches what the folder watch missed (and arms it once the runs folder exists). */
  readonly everyMs?: number;
}

/** Where the stream stands in one log: the file's identity and the bytes sent so far. */
interface Followed { ids: string[]; log: string; offset: number }

/**
 * Follows the run logs of the registry's current claims: a watch on the runs folder wakes it at
 * once, a poll every second catches the rest. Each round stats the claims' logs and, for those a
 * page listens to (`?log=` on /api/events), reads at most CHUNK_MAX new bytes, cut at a UTF-8
 * character boundary. Logs nobody listens to cost one stat a round. Returns a stop function.
 */
export function startLogStream(s: LogStreamInput): () => void {
  const followed = new Map<string, Followed>();
  let registrySig = '';
  let claimed = new Map<string, string[]>();
  let watcher: fs.FSWatcher | undefined;
  let watchedId: string | undefined;
  let pending: NodeJS.Timeout | undefined;
  let lastRound = 0;
  const said = new Set<string>();

  /** The claims' log files and their task ids, read again only when registry.json changed. */
  const readClaims = (): Map<string, string[]> => {
    const st = fs.lstatSync(s.paths.registry, { throwIfNoEntry: false });
    const sig = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
    if (sig === registrySig) return claimed;
    registrySig = sig;
    const reg = st?.isFile() ? readJsonFile<Registry>(s.paths.registry) : undefined;
    const next = new Map<string, string[]>();
    for (const [id, log] of logSources(reg).claims) {
      if (!inRunsFolder(log, s.paths.runs)) continue;
      const file = path.resolve(log);
      next.set(file, [...(next.get(file) ?? []), id]);
    }
    claimed = next;
    return claimed;
  };

  const arm = (): void => {
    // lstat: a runs folder that is a link is not watched (the heartbeat refuses it; nothing there is ours).
    const st = fs.lstatSync(s.paths.runs, { throwIfNoEntry: false });
    const id = st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
    if (id === watchedId) return;
    watcher?.close();
    watcher = undefined;
    watchedId = id;
    if (id === undefined) return;
    try {
      watcher = fs.watch(s.paths.runs, { persistent: false }, () => soon());
      watcher.on('error', () => { watcher?.close(); watcher = undefined; watchedId = undefined; });
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOSPC') && !isErrno(err, 'EMFILE')) throw err;
      watchedId = undefined; // the poll goes on and tries again
    }
  };

  /** Sends the bytes of an open log past f.offset (at most CHUNK_MAX, skipping ahead over a flood) and advances f. */
  const send = (fd: number, size: number, log: string, f: Followed): void => {
    if (size < f.offset) f.offset = 0; // cut in place: the page sees from 0 and refetches
    if (size === f.offset) return;
    if (size - f.offset > CHUNK_MAX) f.offset = size - CHUNK_MAX;
    const buf = Buffer.alloc(size - f.offset);
    const got = fs.readSync(fd, buf, 0, buf.length, f.offset);
    const len = utf8Cut(buf.subarray(0, got));
    if (len === 0) return;
    const text = buf.subarray(0, len).toString('utf8');
    const lines = text.split('\n');
    const partial = !text.endsWith('\n');
    if (!partial) lines.pop();
    const from = f.offset;
    f.offset += len;
    for (const id of f.ids) s.hub.sendLog({ id, log, from, to: f.offset, lines, partial });
  };

  const readNew = (file: string, f: Followed): void => {
    const opened = openLog(file);
    if (opened === undefined) return;
    const { fd, st } = opened;
    try {
      const log = `${st.dev}:${st.ino}`;
      if (log !== f.log) {
        // Rotated: the last lines of the old file are in <log>.1 now; send them before the new file's.
        const rotated = f.log === '' ? undefined : openLog(`${file}.1`);
        if (rotated !== undefined) {
          try {
            if (`${rotated.st.dev}:${rotated.st.ino}` === f.log) send(rotated.fd, rotated.st.size, f.log, f);
          } finally {
            fs.closeSync(rotated.fd);
          }
        }
        f.log = log;
        f.offset = 0;
      }
      send(fd, st.size, log, f);
    } finally {
      fs.closeSync(fd);
    }
  };

  const round = (): void => {
    lastRound = Date.now();
    arm();
    const files = readClaims();
    for (const file of followed.keys()) if (!files.has(file)) followed.delete(file);
    for (const [file, ids] of files) {
      const listened = ids.some((id) => s.hub.wantsLog(id));
      let f = followed.get(file);
      if (f === undefined) {
        // A log first seen while a page listens is sent from its start (its claim is new); else from its end now.
        const st = fs.lstatSync(file, { throwIfNoEntry: false });
        f = { ids, log: st ? `${st.dev}:${st.ino}` : '', offset: listened ? 0 : st?.size ?? 0 };
        followed.set(file, f);
        if (!listened) continue;
      }
      f.ids = ids;
      if (listened) readNew(file, f);
      else skip(file, f);
    }
  };

  /**
   * Nobody listens to this log: only its position is kept (one stat), so a page that subscribes
   * later is sent everything from before its own tail fetch on, and nothing is lost in between.
   */
  const skip = (file: string, f: Followed): void => {
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st === undefined) return;
    f.log = `${st.dev}:${st.ino}`;
    f.offset = st.size;
  };

  const safeRound = (): void => {
    try {
      round();
    } catch (err) {
      // A log that cannot be read this second must not end the server; the next round retries.
      const message = (err as Error).message;
      if (!said.has(message)) {
        said.add(message);
        s.log(`run log stream failed: ${message}`);
      }
    }
  };

  function soon(): void {
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      safeRound();
    }, Math.max(0, lastRound + ROUND_GAP_MS - Date.now()));
  }

  const timer = setInterval(safeRound, s.everyMs ?? 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (pending !== undefined) clearTimeout(pending);
    watcher?.close();
  };
}

/** How many leading bytes of buf end on a whole UTF-8 character (a character cut by the read waits for the next round). */
export function utf8Cut(buf: Buffer): number {
  let i = buf.length - 1;
  // Walk back over at most 3 continuation bytes to the lead byte of the last character.
  let back = 0;
  while (i >= 0 && back < 3 && ((buf[i] as number) & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf.length;
  const lead = buf[i] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return back + 1 >= need ? buf.length : i;
}
