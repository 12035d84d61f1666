// What happened between two ticks, as the history and the notifications see it: runs that ended (one record each) and new escalations.
import type { Claim, Released } from './registry.ts';
import type { Snapshot } from './tick.ts';

/** How a run ended: 0 is success; anything else needs an operator (see escalations.ts's runReasons). */
export type RunOutcome = 'success' | 'failed' | 'timed_out' | 'interrupted' | 'not_started';

/** One run, as history keeps it and `/api/history` serves it (field names are an interface: docs/api.md). */
export interface RunRecord {
  /** The task id. */
  id: string;
  slug: string;
  /** The host that ran it: this machine's name, or the shared registry's host name. */
  host: string;
  owner: string;
  /** ISO times; start is when the run started (or was claimed, for a run that never started). */
  start: string;
  end: string | null;
  exit: number | null;
  durationS: number | null;
  outcome: RunOutcome | 'running';
  /** Why it ended that way, when known (a time-out, an interruption, why it never started). */
  note?: string;
  /** One run's identity: its run marker, else the task id and its start. Dedup key across restarts. */
  key: string;
}

/** One tick as history keeps it: compact, and downsampled when old (n ticks merged into one). */
export interface TickRecord {
  /** The tick's start (ISO). */
  at: string;
  /** Tasks by status, as the snapshot counts them. */
  counts: Record<string, number>;
  ready: number;
  running: number;
  escalations: number;
  /** Ticks this record stands for (absent: 1); a downsampled record keeps the last tick's figures of its span. */
  n?: number;
}

/** What `history --json` prints and `/api/history?since=` serves (docs/api.md). */
export interface HistoryData {
  runs: RunRecord[];
  ticks: TickRecord[];
}

/** Something an operator may want to hear about. Keys are stable across restarts, so each is sent once. */
export type FleetEvent =
  | { readonly kind: 'escalation'; readonly key: string; readonly id: string; readonly reason: string; readonly since: string }
  | { readonly kind: 'run-finished' | 'run-failed' | 'run-timed-out'; readonly key: string; readonly id: string; readonly run: RunRecord }
  | { readonly kind: 'watchdog-restart' | 'stuck'; readonly key: string; readonly id: null; readonly reason: string; readonly at: string };

/** A run's identity: its run marker when it has one, else the task id and when it started (or was claimed). */
export function runKey(c: Claim): string {
  return c.runId ? `run:${c.runId}` : `run:${c.id}@${c.startedAt ?? c.claimedAt}`;
}

/** The outcome of a claim's run; 'running' while it has not ended (claimed or running). */
export function outcomeOf(c: Claim): RunOutcome | 'running' {
  switch (c.state) {
    case 'claimed':
    case 'running':
      return 'running';
    case 'exited':
      return c.exitCode === 0 ? 'success' : 'failed';
    case 'timed_out':
      return 'timed_out';
    case 'interrupted':
      return c.startedAt === null && c.pid === null ? 'not_started' : 'interrupted';
  }
}

/** The run record of a claim (host: the claim's own in a shared registry, else this machine's). */
export function runRecordOf(c: Claim, owner: string, host: string, now: Date): RunRecord {
  const start = c.startedAt ?? c.claimedAt;
  const outcome = outcomeOf(c);
  const endMs = c.endedAt !== null ? Date.parse(c.endedAt) : outcome === 'running' ? now.getTime() : NaN;
  const durationS = Number.isFinite(endMs) ? Math.max(0, Math.round((endMs - Date.parse(start)) / 100) / 10) : null;
  const run: RunRecord = { id: c.id, slug: c.slug, host: c.host ?? host, owner: (c as Claim & { owner?: string }).owner ?? c.claimedBy ?? owner, start, end: c.endedAt, exit: c.exitCode, durationS, outcome, key: runKey(c) };
  if (c.note !== undefined) run.note = c.note;
  return run;
}

/**
 * The run record of a claim released from the registry (it is in the registry's history): a run
 * that ended is what it was; one released while still claimed or running (its file removed, taken
 * over, released by hand) ended when it was released, interrupted, or not started when it never was.
 */
export function releasedRecordOf(r: Released, owner: string, host: string, now: Date): RunRecord {
  if (outcomeOf(r) !== 'running') return runRecordOf(r, owner, host, now);
  const ended: Claim = { ...r, state: 'interrupted', endedAt: r.endedAt ?? r.releasedAt, note: r.note ?? `released: ${r.releaseReason}` };
  return runRecordOf(ended, owner, host, now);
}

/** True when this claim is this heartbeat's to record: its own, on this host (another host records its own). */
export function ownClaim(c: Claim, owner: string, host: string | undefined): boolean {
  return c.claimedBy === owner && (c.host === undefined || host === undefined || c.host === host);
}

/**
 * The events of one tick: runs of this owner that have ended since prev (claims that ended, and
 * claims released lately: next.released; every ended run when prev
 * is undefined: a restart; the caller drops keys it has already handled) and escalations that were
 * not in prev. Pure: the caller keeps prev and the keys it has sent.
 */
export function eventsBetween(prev: Snapshot | undefined, next: Snapshot, owner: string, host: string | undefined, now: Date): FleetEvent[] {
  const out: FleetEvent[] = [];
  // A claim says timed_out as soon as its stop begins; the run has ended (with an end time and a duration) once endedAt is set.
  const over = (c: Claim): boolean => outcomeOf(c) !== 'running' && !(c.state === 'timed_out' && c.endedAt === null);
  const endedBefore = new Set([...(prev?.claims ?? []).filter(over), ...(prev?.released ?? [])].map(runKey));
  const ran = (c: Claim, run: RunRecord): void => {
    const kind = run.outcome === 'success' ? 'run-finished' : run.outcome === 'timed_out' ? 'run-timed-out' : 'run-failed';
    out.push({ kind, key: `${kind}:${run.key}`, id: c.id, run });
  };
  for (const c of next.claims) {
    if (!ownClaim(c, owner, host) || !over(c)) continue;
    if (endedBefore.has(runKey(c))) continue;
    ran(c, runRecordOf(c, owner, host ?? '', now));
  }
  // A run whose task was completed is released in the tick that records its end: it is never an
  // ended claim in any snapshot, only in the claims released lately.
  const seen = new Set(next.claims.map(runKey));
  for (const r of next.released ?? []) {
    const key = runKey(r);
    if (!ownClaim(r, owner, host) || endedBefore.has(key) || seen.has(key)) continue;
    seen.add(key);
    ran(r, releasedRecordOf(r, owner, host ?? '', now));
  }
  const before = new Set((prev?.escalations ?? []).map((e) => `${e.id}\0${e.since}`));
  for (const e of next.escalations) {
    // The since is stable while the condition lasts; a reason's text may change (its age), so it is not in the key.
    if (before.has(`${e.id}\0${e.since}`)) continue;
    out.push({ kind: 'escalation', key: `escalation:${e.id}@${e.since}`, id: e.id, reason: e.reason, since: e.since });
  }
  return out;
}
