// The run and tick history the index's Fleet charts show: the last 30 days on file, read at most once a minute, with what the build's own snapshot says on top (so a build right after a tick shows it before the recorder has appended it).
import os from 'node:os';
import { DAY } from '../client/charts-data.ts';
import { type HistoryData, type RunRecord, ownClaim, releasedRecordOf, runRecordOf } from '../../manager/fleet-events.ts';
import { HistoryReader, tickRecordOf } from '../../manager/history.ts';
import type { Snapshot } from '../../manager/tick.ts';
import type { FleetHistory } from '../render/charts.ts';
import type { WebSnapshot } from '../render/snapshot-read.ts';

/** How far back the charts look. */
const KEEP_MS = 30 * DAY;
const READ_EVERY_MS = 60_000;

export class HistoryView {
  private reader: { key: string; reader: HistoryReader } | undefined;
  private last: { key: string; data: HistoryData } | undefined;

  /**
   * The history for a build: the files are read at most once a minute; the snapshot's claims (as
   * the build sees them, the registry's changes since the tick included), the claims it released
   * lately and its tick are laid over them at every build. A failure to read is shown on the page,
   * never thrown into the build.
   */
  read(dir: string, owner: string, snapshot: WebSnapshot | undefined, now: Date): FleetHistory {
    const where = `${dir}\0${owner}`;
    if (this.reader?.key !== where) this.reader = { key: where, reader: new HistoryReader(dir, owner) };
    // The files at most once a minute: a year of history on file takes about 0.1 s to parse
    // (bench/charts-bytes.ts), too much for every tick; what a minute adds is invisible in the
    // flow's columns (30 minutes at the least), and its runs are in the snapshot (claims, and
    // claims released lately), laid over below.
    const key = `${where}\0${Math.floor(now.getTime() / READ_EVERY_MS)}`;
    try {
      if (this.last?.key !== key) this.last = { key, data: this.reader.reader.read(new Date(now.getTime() - KEEP_MS), now) };
    } catch (err) {
      this.last = undefined;
      return { error: err instanceof Error ? err.message : String(err) };
    }
    return snapshot === undefined ? this.last.data : withSnapshot(this.last.data, snapshot as unknown as Snapshot, owner, now);
  }
}

/** The records with the snapshot's own runs (its claims and those released lately) in place of the same runs on file, and its tick when newer than the last on file. */
export function withSnapshot(data: HistoryData, snap: Snapshot, owner: string, now: Date): HistoryData {
  const shared = snap.registry?.host || undefined;
  const host = shared ?? os.hostname();
  const fresh = new Map<string, RunRecord>();
  const add = (r: RunRecord): void => void fresh.set(r.key, r);
  for (const c of Array.isArray(snap.claims) ? snap.claims : []) if (ownClaim(c, owner, shared)) add(runRecordOf(c, owner, host, now));
  // As the recorder reads them: a run released while in flight ended then (releasedRecordOf).
  for (const r of Array.isArray(snap.released) ? snap.released : []) if (ownClaim(r, owner, shared)) add(releasedRecordOf(r, owner, host, now));
  const runs = data.runs.map((r) => fresh.get(r.key) ?? r);
  const known = new Set(data.runs.map((r) => r.key));
  for (const [key, r] of fresh) if (!known.has(key)) runs.push(r);
  const lastAt = data.ticks.length ? Date.parse((data.ticks[data.ticks.length - 1] as { at: string }).at) : -Infinity;
  const ticks = Date.parse(snap.tickAt) > lastAt && snap.counts !== undefined ? [...data.ticks, tickRecordOf(snap)] : data.ticks;
  return { runs, ticks };
}
