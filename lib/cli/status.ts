// The status document of one owner (heartbeat, tick, server, claims) and its terminal lines.
import { escapeControls, quoteText } from '../base/controls.ts';
import { readJsonFile } from '../base/jsonfile.ts';
import { shellArg } from '../base/shellword.ts';
import type { Registry } from '../manager/registry.ts';
import { withRunEscalations } from '../manager/escalations.ts';
import type { Expected } from '../supervise/pidfile.ts';
import { type HeartbeatState, heartbeatHealth } from '../supervise/health.ts';
import { TasksError } from '../base/errors.ts';
import { runtimePaths } from '../base/paths.ts';
import { findOwnServer } from '../web/http/probe.ts';
import type { Self } from '../supervise/daemon.ts';
import { hostName } from '../manager/store.ts';
import type { Options } from './args.ts';
import type { Cli } from './context.ts';
import { storeFor } from './store.ts';

/** The status document: what `status --json` prints (pid at the top level). */
export interface Status {
  owner: string;
  dir: string;
  /** running, stuck (identified but not ticking for 3 intervals + 10 s) or stopped. */
  state: HeartbeatState;
  running: boolean;
  pid: number | null;
  heartbeat: {
    state: HeartbeatState;
    pid: number | null;
    /** The last beat (the heartbeat touches its pid file after every tick). */
    beatAt: string | null;
    stuckAfter: string | null;
    startedAt: string | null;
    uptimeS: number | null;
    stale: string | null;
    pidFile: string;
    log: string;
  };
  tick: { number: number; at: string; ageS: number; durationMs: number; nextAt: string | null } | null;
  counts: Record<string, number> | null;
  taskCount: number | null;
  escalations: { id: string; reason: string; since: string }[];
  ready: unknown[];
  /** Why nothing is dispatchable when no task has a ready status (the snapshot's dispatchNote), else null. */
  dispatchNote: string | null;
  /** Tasks an operator released, held back from dispatch until `retry`, by id (from the registry). */
  holds: Record<string, { since: string; by: string }>;
  /** Claims as the registry has them now (state, exit code), each with its owner. */
  claims: Record<string, unknown>[];
  server: { running: boolean; pid: number | null; url: string | null; detached: boolean };
  /** The shared registry only (absent with registry.json): where, and whether it answers. */
  registry?: SharedStatus;
}

/** A shared registry as status tells it; the URL never with its password. */
export interface SharedStatus {
  where: string;
  queue: string | null;
  /** This host's name in the queue. */
  host: string;
  /** Why status itself could not read the claims now (the claims shown are the snapshot's), else null. */
  unreachable: string | null;
  /** Since when the heartbeat cannot reach it (its snapshot), else null. */
  unreachableSince: string | null;
  error: string | null;
}

/** The claims as status read them: the registry (undefined: none, or a damaged file), and the shared one's facts. */
export interface StatusClaims {
  readonly registry: Registry | undefined;
  readonly shared?: Omit<SharedStatus, 'unreachableSince' | 'error'> | undefined;
}

/** Reads the state of one owner's heartbeat and server; starts nothing and writes nothing. */
export async function readStatus(owner: string, dir: string, self: Self, now: Date, read: StatusClaims, stuckSlackS?: number): Promise<Status> {
  const paths = runtimePaths(dir, owner);
  const hbExpected: Expected = { kind: 'heartbeat', owner, dir };
  let hb: ReturnType<typeof heartbeatHealth>;
  try {
    hb = heartbeatHealth(paths.heartbeatPid, hbExpected, self, now, stuckSlackS);
  } catch (err) {
    // A pid file that is a folder: nothing can be proven about the heartbeat, so it is not running.
    if (!(err instanceof TasksError)) throw err;
    hb = { state: 'stopped', pid: null, stale: err.message, startedAt: null, beatAt: null, interval: null, stuckAfter: null };
  }
  const started = hb.startedAt ?? undefined;
  const snap = readJsonFile<Record<string, unknown>>(paths.snapshot);
  const tickAt = typeof snap?.tickAt === 'string' ? snap.tickAt : undefined;
  const server = await readServer(owner, dir);
  // A damaged registry (the heartbeat rebuilds it) shows no claims and no holds. A shared one
  // status could not reach shows what the heartbeat's last tick read.
  const fromSnapshot = read.shared?.unreachable ? snapshotRegistry(snap) : undefined;
  const registry = read.registry ?? fromSnapshot;
  return {
    owner,
    dir,
    state: hb.state,
    running: hb.state === 'running',
    pid: hb.pid,
    heartbeat: {
      state: hb.state,
      pid: hb.pid,
      beatAt: hb.beatAt,
      stuckAfter: hb.stuckAfter,
      startedAt: started ?? null,
      uptimeS: started && hb.pid !== null ? Math.round((now.getTime() - Date.parse(started)) / 1000) : null,
      stale: hb.stale,
      pidFile: paths.heartbeatPid,
      log: paths.heartbeatLog,
    },
    tick: snap && tickAt ? {
      number: Number(snap.tick),
      at: tickAt,
      ageS: Math.round((now.getTime() - Date.parse(tickAt)) / 1000),
      durationMs: Number(snap.tickDurationMs),
      nextAt: typeof snap.nextTickAt === 'string' ? snap.nextTickAt : null,
    } : null,
    counts: (snap?.counts as Record<string, number> | undefined) ?? null,
    taskCount: typeof snap?.taskCount === 'number' ? snap.taskCount : null,
    // A run that failed since the last tick is an escalation at once, as on the page.
    escalations: withRunEscalations(Array.isArray(snap?.escalations) ? (snap.escalations as Status['escalations']) : [], Object.values(registry?.claims ?? {})),
    ready: Array.isArray(snap?.ready) ? snap.ready : [],
    dispatchNote: typeof snap?.dispatchNote === 'string' ? snap.dispatchNote : null,
    holds: registry?.holds ?? {},
    claims: registryClaims(registry),
    server,
    ...(read.shared ? { registry: { ...read.shared, ...snapshotUnreachable(snap) } } : {}),
  };
}

/** The claims and holds the heartbeat's snapshot lists, as a registry: what is known while the database is not. */
function snapshotRegistry(snap: Record<string, unknown> | undefined): Registry | undefined {
  if (!snap || !Array.isArray(snap.claims)) return undefined;
  const claims = Object.fromEntries((snap.claims as Registry['claims'][string][]).map((c) => [c.id, c]));
  return { claims, holds: (snap.holds as Registry['holds'] | undefined) ?? {}, history: [] } as unknown as Registry;
}

/** Since when the heartbeat could not reach the shared registry, as its snapshot says. */
function snapshotUnreachable(snap: Record<string, unknown> | undefined): Pick<SharedStatus, 'unreachableSince' | 'error'> {
  const r = snap?.registry as { unreachableSince?: unknown; error?: unknown } | undefined;
  return {
    unreachableSince: typeof r?.unreachableSince === 'string' ? r.unreachableSince : null,
    error: typeof r?.error === 'string' ? r.error : null,
  };
}

/** The registry's claims as status shows them. */
function registryClaims(registry: Registry | undefined): Record<string, unknown>[] {
  return Object.values(registry?.claims ?? {}).map((c) => ({ ...c, owner: c.claimedBy }));
}

async function readServer(owner: string, dir: string): Promise<Status['server']> {
  const own = await findOwnServer({ owner, dir }, 1000);
  return own ? { running: true, pid: own.pid, url: own.url, detached: own.detached } : { running: false, pid: null, url: null, detached: false };
}

/** Formats a duration in seconds the way operators read it: 45s, 12m, 3h 5m, 2d 4h. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * The few lines `status` prints on a terminal. again: the keys that name this heartbeat in a hint
 * (owner, dir); folder: those that name the tasks folder (dir) for task hints, shell-quoted. Ids
 * come from files anyone can write: each is shown quoted when it needs it (quoteText), each hint
 * quotes it for a shell (shellArg), and every line is escaped whole, so no id or note ever starts
 * a line of its own.
 */
export function formatStatus(s: Status, now: Date, again: string, folder = ''): string[] {
  const lines: string[] = [];
  if (s.heartbeat.state === 'running') {
    lines.push(`heartbeat  running, pid ${s.pid}, up ${formatAge(s.heartbeat.uptimeS ?? 0)}, owner ${s.owner}`);
  } else if (s.heartbeat.state === 'stuck') {
    const silent = s.heartbeat.beatAt ? ` for ${formatAge((now.getTime() - Date.parse(s.heartbeat.beatAt)) / 1000)}` : '';
    lines.push(`heartbeat  STUCK: pid ${s.pid} is alive but has not ticked${silent}; replace it with: just tasks ensure ${again}`);
  } else if (s.heartbeat.stale) {
    lines.push(`heartbeat  not running (stale pid file: ${s.heartbeat.stale}); start it with: just tasks ensure ${again}`);
  } else {
    lines.push(`heartbeat  not running; start it with: just tasks ensure ${again}`);
  }
  if (s.tick) {
    const next = s.tick.nextAt ? Math.round((Date.parse(s.tick.nextAt) - now.getTime()) / 1000) : undefined;
    const nextText = next === undefined ? '' : next >= 0 ? `, next in ${formatAge(next)}` : `, next overdue by ${formatAge(-next)}`;
    lines.push(`last tick  #${s.tick.number} ${formatAge(s.tick.ageS)} ago (${s.tick.durationMs} ms)${s.running ? nextText : ''}`);
  } else {
    lines.push('last tick  none yet');
  }
  const shared = s.registry;
  if (shared) {
    lines.push(`registry   ${shared.where}${shared.queue === null ? '' : ` queue ${quoteText(shared.queue)}`}, this host ${quoteText(shared.host)}`);
    if (shared.unreachableSince !== null) lines.push(`registry   unreachable since ${shared.unreachableSince} (${formatAge((now.getTime() - Date.parse(shared.unreachableSince)) / 1000)} ago)${shared.error ? `: ${shared.error}` : ''}; the heartbeat dispatches nothing until it answers`);
    if (shared.unreachable !== null) lines.push(`registry   unreachable: ${shared.unreachable}; the claims below are the last tick's`);
  }
  // With a shared registry every claim names the host that holds it.
  const on = (c: { host?: string }): string => (c.host === undefined ? '' : ` on ${quoteText(c.host)}`);
  if (s.counts) {
    const parts = Object.entries(s.counts).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${v}`);
    lines.push(`tasks      ${s.taskCount ?? s.counts.total ?? 0}${parts.length ? ` (${parts.join(', ')})` : ''}`);
  }
  if (s.ready.length) {
    const ids = (s.ready as { id: string; priority: string | null }[]).map((r) => `${quoteText(r.id)}${r.priority ? ` (${r.priority})` : ''}`);
    lines.push(`ready      ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? `, and ${ids.length - 5} more` : ''}`);
  }
  if (s.dispatchNote !== null && s.ready.length === 0) lines.push(`dispatch   nothing: ${s.dispatchNote}`);
  const holds = Object.entries(s.holds);
  for (const [id, h] of holds.slice(0, 5)) {
    // `by` is recorded as "<owner> (release)": the owner is what the operator needs.
    const who = h.by.replace(/ \(release\)$/, '');
    lines.push(`held       ${quoteText(id)} (released by ${quoteText(who)} ${formatAge((now.getTime() - Date.parse(h.since)) / 1000)} ago; dispatch it again with: just tasks retry ${shellArg('id', id)}${folder})`);
  }
  if (holds.length > 5) lines.push(`held       and ${holds.length - 5} more (status --json lists all)`);
  const claims = s.claims as { id: string; owner: string; state: string; exitCode: number | null; pid: number | null; note?: string; host?: string }[];
  const failed = claims.filter((c) => (c.state === 'exited' && c.exitCode !== 0) || c.state === 'interrupted' || c.state === 'timed_out');
  const others = claims.filter((c) => !failed.includes(c));
  for (const c of others.slice(0, 5)) {
    const how = c.state === 'exited' ? `exited ${c.exitCode}` : c.state === 'running' ? `running, pid ${c.pid}` : c.state;
    lines.push(`claimed    ${quoteText(c.id)} by ${quoteText(c.owner)}${on(c)}: ${how}`);
  }
  if (others.length > 5) lines.push(`claimed    and ${others.length - 5} more (status --json lists all)`);
  // Failed runs are what an operator acts on: each with the commands that show its log and rerun it.
  for (const c of failed.slice(0, 10)) {
    // A run whose worktree could not be made never started: its note says so, "interrupted" would not be true.
    const how = c.state === 'exited' ? `exit code ${c.exitCode}` : c.state === 'timed_out' ? (c.note ?? 'timed out')
      : c.note?.startsWith('not started') ? c.note : `interrupted${c.note ? `: ${c.note}` : ''}`;
    const id = shellArg('id', c.id);
    lines.push(`failed     ${quoteText(c.id)} (${how}${on(c)}); log: just tasks logs ${id}${folder}; rerun: just tasks retry ${id}${folder}`);
  }
  if (failed.length > 10) lines.push(`failed     and ${failed.length - 10} more (status --json lists all)`);
  for (const e of s.escalations.slice(0, 5)) lines.push(`escalated  ${quoteText(e.id)}: ${e.reason}`);
  if (s.escalations.length > 5) lines.push(`escalated  and ${s.escalations.length - 5} more (status --json lists all)`);
  lines.push(s.server.running ? `server     ${s.server.url} (pid ${s.server.pid}${s.server.detached ? ', detached' : ''})` : 'server     not running');
  return lines.map(escapeControls);
}

/** The claims from the options' store; a shared registry that cannot be reached is said, not fatal: status still tells the rest. */
export async function readClaims(o: Options, cli: Cli): Promise<StatusClaims> {
  let store: Awaited<ReturnType<typeof storeFor>> | undefined;
  try {
    store = await storeFor(o, cli);
    const registry = await store.peek();
    if (store.kind === 'file') return { registry };
    return { registry, shared: { where: store.where, queue: (store as { queue?: string }).queue ?? null, host: hostName(cli.env), unreachable: null } };
  } catch (err) {
    // openStore and peek name the database (host, port, what to check) without its password.
    if (!(err instanceof TasksError) || o.registry === undefined) throw err;
    const { redactUrl } = await import('../base/registry-url.ts');
    return { registry: undefined, shared: { where: redactUrl(o.registry), queue: o.queue ?? null, host: hostName(cli.env), unreachable: err.message } };
  } finally {
    await store?.close();
  }
}
