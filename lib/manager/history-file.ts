// History's two files per owner (ticks, runs: one JSON record a line): read tolerantly, appended a line at a time, rewritten atomically when compacted.
import fs from 'node:fs';
import path from 'node:path';
import { makeFolders, writeFileAtomic } from '../base/atomic.ts';
import { isErrno } from '../base/errors.ts';
import { openRegular } from '../base/jsonfile.ts';
import { openAppend } from '../base/nofollow.ts';
import type { RunRecord, TickRecord } from './fleet-events.ts';

/** The history files of one owner in `<dir>/logs/task_manager/`. */
export interface HistoryPaths {
  readonly stateDir: string;
  readonly ticks: string;
  readonly runs: string;
}

export function historyPaths(dir: string, owner: string): HistoryPaths {
  const stateDir = path.join(dir, 'logs', 'task_manager');
  const base = path.join(stateDir, `task-manager-${owner}`);
  return { stateDir, ticks: `${base}.ticks.jsonl`, runs: `${base}.runs.jsonl` };
}

/**
 * Most bytes read of one history file: its last ones (a compacted file stays far below: a year of
 * ticks is about 2 MB, 10,000 runs about 3 MB). A file a repository committed, or one grown while
 * compaction failed, never costs more than this to read.
 */
export const READ_MAX_BYTES = 32 * 1024 * 1024;

/** Where a read of a history file ended: the file (its inode) and the offset after its last whole line. */
export interface ReadMark { readonly ino: number; readonly end: number }

/**
 * The whole lines of a history file, from a mark on when the file is still the one marked and has
 * not shrunk (`whole` false: only lines appended since), else its last READ_MAX_BYTES (`whole`
 * true). Missing, a link, a FIFO or a folder in its place reads as no lines (never followed, never
 * waited on). A line still being written (no newline yet) is left for the next read; a cut first
 * line and a line a crash cut short are the parser's to skip.
 */
export function readChunk(file: string, from?: ReadMark): { lines: string[]; mark: ReadMark | undefined; whole: boolean } {
  let src: { fd: number; st: fs.Stats } | undefined;
  try {
    src = openRegular(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENXIO') || isErrno(err, 'EISDIR') || isErrno(err, 'ENOTDIR')) return { lines: [], mark: undefined, whole: true };
    throw err;
  }
  if (!src) return { lines: [], mark: undefined, whole: true };
  try {
    const size = src.st.size;
    const ino = src.st.ino;
    const whole = !(from && from.ino === ino && from.end <= size);
    const start = whole ? Math.max(0, size - READ_MAX_BYTES) : (from as ReadMark).end;
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(src.fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const last = buf.subarray(0, got).lastIndexOf(0x0a);
    if (last === -1) return { lines: [], mark: { ino, end: start }, whole };
    const lines = buf.subarray(0, last).toString('utf8').split('\n');
    // Started mid-file: the first line is a piece of one.
    if (whole && start > 0) lines.shift();
    return { lines, mark: { ino, end: start + last + 1 }, whole };
  } finally {
    fs.closeSync(src.fd);
  }
}

/** The whole lines of a history file (readChunk without a mark). */
export function readLines(file: string): string[] {
  return readChunk(file).lines;
}

const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const OUTCOMES: ReadonlySet<string> = new Set(['success', 'failed', 'timed_out', 'interrupted', 'not_started', 'running']);

/** A line as a tick record, or undefined (not JSON, cut short, or not a tick): skipped, never fatal. */
export function parseTick(line: string): TickRecord | undefined {
  const v = parseObject(line);
  if (!v || !isTime(v.at) || !isCount(v.ready) || !isCount(v.running) || !isCount(v.escalations)) return undefined;
  if (typeof v.counts !== 'object' || v.counts === null || Array.isArray(v.counts)) return undefined;
  // fromEntries makes own properties: a status named __proto__ is counted, never taken for the prototype.
  const counts = Object.fromEntries(Object.entries(v.counts as Record<string, unknown>).filter((e): e is [string, number] => isCount(e[1])));
  const t: TickRecord = { at: v.at, counts, ready: v.ready, running: v.running, escalations: v.escalations };
  if (isCount(v.n) && v.n > 1) t.n = v.n;
  return t;
}

/** A line as a run record, or undefined (skipped). */
export function parseRun(line: string): RunRecord | undefined {
  const v = parseObject(line);
  if (!v || typeof v.id !== 'string' || typeof v.key !== 'string' || !isTime(v.start)) return undefined;
  if (v.end !== null && !isTime(v.end)) return undefined;
  if (typeof v.outcome !== 'string' || !OUTCOMES.has(v.outcome)) return undefined;
  const text = (x: unknown): string => (typeof x === 'string' ? x : '');
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const r: RunRecord = {
    id: v.id, slug: text(v.slug), host: text(v.host), owner: text(v.owner), start: v.start, end: v.end as string | null,
    exit: num(v.exit), durationS: num(v.durationS), outcome: v.outcome as RunRecord['outcome'], key: v.key,
  };
  if (typeof v.note === 'string') r.note = v.note;
  return r;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (line === '' || line[0] !== '{') return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Appends records (one line each) to a history file: the folders checked for links and made (two
 * levels at most, like the snapshot), the file opened O_APPEND without following a link (a link in
 * its place is removed, its target never written). One write per call, so a line is never split
 * between two writers. A file that lacks its final newline (a write cut short) gets one first, so
 * the cut line stays one bad line and the new ones stay whole.
 */
export function appendRecords(file: string, records: readonly object[]): void {
  if (records.length === 0) return;
  makeFolders(path.dirname(file), 2);
  const fd = openAppend(file, true);
  try {
    const size = fs.fstatSync(fd).size;
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    const data = Buffer.from(lead + records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    let at = 0;
    while (at < data.length) at += fs.writeSync(fd, data, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces a history file with these records at once (temp file + rename: a link in its place is replaced, never followed). */
export function rewriteRecords(file: string, records: readonly object[]): void {
  writeFileAtomic(file, records.map((r) => JSON.stringify(r) + '\n').join(''));
}

/** The tick records of a file, oldest first (bad lines skipped). */
export function readTicks(file: string): TickRecord[] {
  return byTime(parseTicks(readLines(file)), (t) => Date.parse(t.at));
}

/** Tick records of lines, bad ones skipped. */
export function parseTicks(lines: readonly string[]): TickRecord[] {
  const out: TickRecord[] = [];
  for (const line of lines) {
    const t = parseTick(line);
    if (t) out.push(t);
  }
  return out;
}

/** The run records of a file, oldest first by end; a key recorded twice keeps its last record. */
export function readRuns(file: string): RunRecord[] {
  return byTime([...addRuns(new Map(), readLines(file)).values()], runTime);
}

/** Adds the run records of lines to a map by key (bad lines skipped): a key recorded again keeps its last record, in its new place. */
export function addRuns(byKey: Map<string, RunRecord>, lines: readonly string[]): Map<string, RunRecord> {
  for (const line of lines) {
    const r = parseRun(line);
    if (!r) continue;
    byKey.delete(r.key);
    byKey.set(r.key, r);
  }
  return byKey;
}

/** Records in time order: as they are when they already are (the usual case: appended in order), else sorted by their times computed once. */
export function byTime<T>(records: T[], time: (x: T) => number): T[] {
  const times = records.map(time);
  if (times.every((t, i) => i === 0 || (times[i - 1] as number) <= t)) return records;
  const order = times.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return order.map(([, i]) => records[i] as T);
}

/** When a run counts as happening: its end, else its start. */
export function runTime(r: RunRecord): number {
  return Date.parse(r.end ?? r.start);
}
