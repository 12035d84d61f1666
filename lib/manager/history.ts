// Run and tick history (issue 20): the observer that records one tick record per tick and one run record per ended run, and readHistory.
import fs from 'node:fs';
import { type RunRecord, type TickRecord, eventsBetween, outcomeOf } from './fleet-events.ts';
import { compactTicks, trimRuns } from './history-compact.ts';
import { sharedRecorder } from './history-shared.ts';
import { addRuns, appendRecords, byTime, historyPaths, parseTicks, readChunk, readRuns, rewriteRecords, runTime } from './history-file.ts';

export { readHistory, HistoryReader } from './history-read.ts';
import type { Snapshot, TickObserver } from './tick.ts';

export interface HistoryOptions {
  readonly owner: string;
  readonly dir: string;
  /** This machine's name, or the shared registry's host name. */
  readonly host: string;
  readonly log: (line: string) => void;
  readonly now: () => Date;
  /** A shared registry (registry=postgres://…): its URL and queue; the records go to its database too (history-pg.ts). */
  readonly shared?: { readonly url: string; readonly queue: string } | undefined;
}

/** How often the files are compacted (and once at start): a rewrite an hour, appends between. */
export const COMPACT_EVERY_MS = 60 * 60_000;
/** Runs appended between two compactions of the runs file (at most this many past its cap). */
export const RUNS_COMPACT_AFTER = 1000;
/** Run records kept in memory while they cannot be written (a full disk), retried with the next tick's. */
const PENDING_MAX = 1000;

/** The tick record of a snapshot: counts by status, the dispatchable queue, runs in flight, escalations. */
export function tickRecordOf(snap: Snapshot): TickRecord {
  return {
    at: snap.tickAt,
    counts: { ...snap.counts },
    ready: (snap.dispatchable ?? snap.ready).length,
    running: snap.claims.filter((c) => outcomeOf(c) === 'running').length,
    escalations: snap.escalations.length,
  };
}

/**
 * The observer that records history: each tick appends one tick line and a line per run of this
 * owner that ended (eventsBetween), after the tick (setImmediate), one write at a time. Runs are
 * deduplicated by key against the runs file read at start, so a restarted heartbeat that sees
 * the same ended claims again does not record them twice. The ticks file is compacted at start
 * and hourly, the runs file at start and after every RUNS_COMPACT_AFTER runs. A write that fails (a full disk) drops the tick and keeps the runs for the next try,
 * with one log line until writing works again; nothing here ends or holds the heartbeat.
 */
export function historyObserver(o: HistoryOptions): TickObserver | undefined {
  const paths = historyPaths(o.dir, o.owner);
  let prev: Snapshot | undefined;
  let recorded: Set<string> | undefined;
  let pending: RunRecord[] = [];
  let compactedAt = -Infinity;
  let appendedRuns = 0;
  /** The failures logged since writing last worked: each is logged once. */
  const failing = new Set<string>();
  let dropped = 0;
  let chain: Promise<void> = Promise.resolve();

  const record = (tick: TickRecord, ended: RunRecord[]): void => {
    const now = o.now();
    if (now.getTime() - compactedAt >= COMPACT_EVERY_MS) {
      compactedAt = now.getTime();
      try {
        compactTickFile(paths.ticks, now);
      } catch (err) {
        trouble('compacting', err);
      }
    }
    // Runs are only capped, never merged: compacted at start and after every RUNS_COMPACT_AFTER more, not hourly.
    if (recorded === undefined || appendedRuns >= RUNS_COMPACT_AFTER) {
      appendedRuns = 0;
      try {
        // The keys of the runs on file, known again after each compaction: the set stays as bounded as the file.
        recorded = new Set(compactRunFile(paths.runs, now).map((r) => r.key));
      } catch (err) {
        trouble('compacting', err);
        try {
          recorded = new Set(readRuns(paths.runs).map((r) => r.key));
        } catch (e) {
          trouble('reading', e);
        }
      }
    }
    const known = (recorded ??= new Set());
    const runs = [...pending, ...ended.filter((r) => !known.has(r.key) && !pending.some((p) => p.key === r.key))];
    let wrote = true;
    try {
      appendRecords(paths.runs, runs);
      for (const r of runs) known.add(r.key);
      appendedRuns += runs.length;
      pending = [];
    } catch (err) {
      // Kept for the next tick's try: a run's end happens once, a tick comes again.
      pending = runs.slice(-PENDING_MAX);
      wrote = false;
      trouble('writing', err);
    }
    try {
      appendRecords(paths.ticks, [tick]);
    } catch (err) {
      dropped += 1;
      wrote = false;
      trouble('writing', err);
    }
    if (!wrote) return;
    if ([...failing].some((f) => f.startsWith('writing'))) o.log(`${now.toISOString()} history: writing again (${dropped} tick record${dropped === 1 ? '' : 's'} dropped meanwhile)`);
    failing.clear();
    dropped = 0;
  };

  const trouble = (what: string, err: unknown): void => {
    const why = err instanceof Error ? err.message : String(err);
    // One line per kind of failure, not one per tick: a full disk would fill the log too.
    if (failing.has(`${what}: ${why}`)) return;
    failing.add(`${what}: ${why}`);
    const system = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
    o.log(`${o.now().toISOString()} history: ${what} failed, records are dropped until it works: ${system || !(err instanceof Error) ? why : err.stack ?? why}`);
  };

  const shared = o.shared ? sharedRecorder({ ...o.shared, host: o.host, owner: o.owner, log: o.log, now: o.now }) : undefined;
  return {
    observe(snap: Snapshot): void {
      const now = o.now();
      const ended = eventsBetween(prev, snap, o.owner, o.host, now).flatMap((e) => ('run' in e ? [e.run] : []));
      prev = snap;
      const tick = tickRecordOf(snap);
      chain = chain.then(() => new Promise<void>((resolve) => setImmediate(() => {
        record(tick, ended);
        resolve();
      })));
      shared?.add(tick, ended);
    },
    async close(): Promise<void> {
      await Promise.all([chain, shared?.close()]);
    },
  };
}

/**
 * Rewrites the history files compacted (ticks downsampled, runs capped, bad lines dropped), each only
 * when that changes it, and only when no line was appended while it was read (a `--once` heartbeat
 * beside the daemon may append): a skipped compaction is done at the next. Each file is read once.
 */
export function compactFiles(dir: string, owner: string, now: Date): void {
  const paths = historyPaths(dir, owner);
  compactTickFile(paths.ticks, now);
  compactRunFile(paths.runs, now);
}

/** The ticks file downsampled (compactTicks). */
export function compactTickFile(file: string, now: Date): void {
  compactFile(file, (lines) => compactTicks(byTime(parseTicks(lines), (t) => Date.parse(t.at)), now));
}

/** The runs file capped (trimRuns); returns the runs kept, whose keys the recorder knows. */
export function compactRunFile(file: string, now: Date): RunRecord[] {
  return compactFile(file, (lines) => trimRuns(byTime([...addRuns(new Map(), lines).values()], runTime), now));
}

function compactFile<T extends object>(file: string, compact: (lines: string[]) => T[]): T[] {
  const before = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!before) return [];
  const { lines } = readChunk(file);
  const kept = compact(lines);
  const count = lines.reduce((n, l) => n + (l === '' ? 0 : 1), 0);
  const after = fs.lstatSync(file, { throwIfNoEntry: false });
  if (kept.length !== count && after?.ino === before.ino && after.size === before.size) rewriteRecords(file, kept);
  return kept;
}
