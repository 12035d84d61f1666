// Reading history: the runs and ticks on file since a time, with the owner's runs still in flight from its snapshot; a reader that parses the files again only when they change.
import fs from 'node:fs';
import os from 'node:os';
import { isErrno } from '../base/errors.ts';
import { readJsonFile } from '../base/jsonfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { type HistoryData, type RunRecord, type TickRecord, outcomeOf, ownClaim, runRecordOf } from './fleet-events.ts';
import { historyPaths, readRuns, readTicks, runTime } from './history-file.ts';
import type { Snapshot } from './tick.ts';

export interface HistoryQuery {
  readonly dir: string;
  readonly owner: string;
  readonly since: Date;
  readonly now: Date;
  /** This machine's name (TASK_MANAGER_HOST), for the runs in flight; else the snapshot's or the system's. */
  readonly host?: string | undefined;
}

/**
 * The runs and ticks recorded for owner in dir since a time, oldest first: runs that ended since
 * then, then the owner's runs still in flight in the snapshot (outcome "running", end null), and
 * the ticks since then. Bad lines are skipped; missing files are no history.
 */
export function readHistory(o: HistoryQuery): HistoryData {
  return new HistoryReader(o.dir, o.owner).read(o.since, o.now, o.host);
}

/** A file's identity and state, so an unchanged one is not parsed again. */
function signature(file: string): string {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'none';
}

/**
 * readHistory for a server: the files' records are kept between requests and parsed again only
 * when a file's signature (inode, size, mtime) changed, which is once a tick at most.
 */
export class HistoryReader {
  private readonly paths: { ticks: string; runs: string };
  private ticks: { sig: string; records: TickRecord[] } | undefined;
  private runs: { sig: string; records: RunRecord[] } | undefined;

  constructor(private readonly dir: string, private readonly owner: string) {
    this.paths = historyPaths(dir, owner);
  }

  read(since: Date, now: Date, host?: string): HistoryData {
    const from = since.getTime();
    const tickSig = signature(this.paths.ticks);
    if (this.ticks?.sig !== tickSig) this.ticks = { sig: tickSig, records: readTicks(this.paths.ticks) };
    const runSig = signature(this.paths.runs);
    if (this.runs?.sig !== runSig) this.runs = { sig: runSig, records: readRuns(this.paths.runs) };
    const runs = fromTime(this.runs.records, from, runTime);
    const keys = new Set(runs.map((r) => r.key));
    for (const r of runningRuns(this.dir, this.owner, now, host)) if (!keys.has(r.key)) runs.push(r);
    return { runs, ticks: fromTime(this.ticks.records, from, (t) => Date.parse(t.at)) };
  }
}

/** The records (sorted by time) from a time on: found by bisection, copied. */
function fromTime<T>(sorted: readonly T[], from: number, time: (x: T) => number): T[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time(sorted[mid] as T) < from) lo = mid + 1;
    else hi = mid;
  }
  return sorted.slice(lo);
}

/** The runs of this owner in flight in its last snapshot (none without one). */
export function runningRuns(dir: string, owner: string, now: Date, host?: string): RunRecord[] {
  let snap: Snapshot | undefined;
  try {
    snap = readJsonFile<Snapshot>(runtimePaths(dir, owner).snapshot);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO')) return [];
    throw err;
  }
  if (!snap || !Array.isArray(snap.claims)) return [];
  const shared = snap.registry?.host || undefined;
  const name = host ?? shared ?? os.hostname();
  return snap.claims
    .filter((c) => typeof c === 'object' && c !== null && outcomeOf(c) === 'running' && ownClaim(c, owner, shared ?? host))
    .map((c) => runRecordOf(c, owner, name, now))
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}
