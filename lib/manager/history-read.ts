// Reading history: the runs and ticks on file since a time, with the owner's runs still in flight from its snapshot; a reader that parses the files again only when they change.
import fs from 'node:fs';
import os from 'node:os';
import { isErrno } from '../base/errors.ts';
import { readJsonFile } from '../base/jsonfile.ts';
import { runtimePaths } from '../base/paths.ts';
import { type HistoryData, type RunRecord, type TickRecord, outcomeOf, ownClaim, runRecordOf } from './fleet-events.ts';
import { type ReadMark, addRuns, byTime, historyPaths, parseTicks, readChunk, runTime } from './history-file.ts';
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
 * readHistory for a server: the files' records are kept between requests; after a tick only the
 * lines appended since are parsed (readChunk from the last mark); a compaction (a new file) or a
 * file that shrank is read whole again.
 */
export class HistoryReader {
  private readonly paths: { ticks: string; runs: string };
  private ticks: { mark: ReadMark | undefined; records: TickRecord[] } = { mark: undefined, records: [] };
  private runs: { mark: ReadMark | undefined; byKey: Map<string, RunRecord>; sorted: RunRecord[] | undefined } = { mark: undefined, byKey: new Map(), sorted: [] };

  constructor(private readonly dir: string, private readonly owner: string) {
    this.paths = historyPaths(dir, owner);
  }

  /** The files' signatures (ticks, runs, snapshot): the same while what read() gives for one since is the same. */
  signature(): string {
    return [this.paths.ticks, this.paths.runs, runtimePaths(this.dir, this.owner).snapshot].map(signature).join('|');
  }

  read(since: Date, now: Date, host?: string): HistoryData {
    const from = since.getTime();
    const t = readChunk(this.paths.ticks, this.ticks.mark);
    if (t.whole || t.lines.length) {
      const records = t.whole ? parseTicks(t.lines) : [...this.ticks.records, ...parseTicks(t.lines)];
      this.ticks = { mark: t.mark, records: byTime(records, (x) => Date.parse(x.at)) };
    }
    const r = readChunk(this.paths.runs, this.runs.mark);
    if (r.whole || r.lines.length) this.runs = { mark: r.mark, byKey: addRuns(r.whole ? new Map() : this.runs.byKey, r.lines), sorted: undefined };
    const sorted = (this.runs.sorted ??= byTime([...this.runs.byKey.values()], runTime));
    const runs = fromTime(sorted, from, runTime);
    const keys = new Set(runs.map((x) => x.key));
    for (const x of runningRuns(this.dir, this.owner, now, host)) if (!keys.has(x.key)) runs.push(x);
    return { runs, ticks: fromTime(this.ticks.records, from, (x) => Date.parse(x.at)) };
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

/**
 * The runs of this owner in flight in its last snapshot (none without one), their durations as of
 * that snapshot's tick (so the answer is the same until the next tick; a chart grows them live).
 */
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
  const tickAt = Date.parse(snap.tickAt);
  const asOf = Number.isNaN(tickAt) || tickAt > now.getTime() ? now : new Date(tickAt);
  return snap.claims
    .filter((c) => typeof c === 'object' && c !== null && outcomeOf(c) === 'running' && ownClaim(c, owner, shared ?? host))
    .map((c) => runRecordOf(c, owner, name, asOf))
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}
