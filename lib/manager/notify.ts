// Notifications (notify=, notify_url=): the heartbeat's tick observer and the watchdog's notifier, each event sent once, even across restarts.
import path from 'node:path';
import { logCap } from '../base/logfile.ts';
import { notifyFiles } from '../base/notify-files.ts';
import { type FleetEvent, eventsBetween } from './fleet-events.ts';
import { Ledger } from './notify-ledger.ts';
import { Notifier, type NotifierOptions } from './notify-queue.ts';
import { type Channel, commandChannel, urlChannel } from './notify-send.ts';
import type { Snapshot, TickObserver } from './tick.ts';
import { detectFormat } from '../tasks/format.ts';
import { readTask } from '../tasks/task-read.ts';

export interface NotifyOptions {
  readonly owner: string;
  readonly dir: string;
  readonly host: string;
  /** notify=: a shell command; notify_url=: a URL. Neither: no observer. */
  readonly command: string | undefined;
  readonly url: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

/** The channels the keys name: the command (run in the folder that holds the tasks folder, as a dispatch is; the URL cut from what it prints), then the URL. */
export function notifyChannels(o: Pick<NotifyOptions, 'command' | 'url' | 'env' | 'dir'>): Channel[] {
  return [
    ...(o.command === undefined ? [] : [commandChannel(o.command, path.dirname(o.dir), o.env, undefined, o.url)]),
    ...(o.url === undefined ? [] : [urlChannel(o.url)]),
  ];
}

/** A notifier for o's channels writing to the owner's delivery log. */
export function makeNotifier(o: NotifyOptions, more: Partial<NotifierOptions> = {}): Notifier {
  return new Notifier({
    channels: notifyChannels(o), source: { owner: o.owner, host: o.host, dir: o.dir },
    logFile: notifyFiles(o.dir, o.owner).log, logMaxBytes: logCap(o.env), log: o.log, now: o.now, ...more,
  });
}

/** Most task titles remembered (from the ready lists the heartbeat saw), for the notices' text. */
const TITLES_MAX = 5000;

/**
 * The observer that sends notifications; undefined when neither notify= nor notify_url= is set.
 * Each tick's events (eventsBetween: runs that ended, new escalations) are filtered and queued;
 * observe() never waits for a receiver.
 *
 * Sent once: a key in the ledger is never sent again, and a key goes into the ledger once it is
 * delivered (or given up, or dropped by the rate limit) on every channel; a key handled on some
 * channels is recorded per channel, and a restart sends it on the others only. On the first tick
 * after a start, which sees every ended run as new, an event the previous heartbeat had queued and
 * not handled is sent; of the others, an event older than the previous heartbeat's last ledger
 * write (or, with no ledger, than this start) by more than 3 intervals (at least a minute) is
 * recorded as seen, not sent; so are escalations that were open at the previous heartbeat's last
 * write, and, with no ledger at all, every escalation open at the first tick.
 *
 * One incident, one notice: an escalation that only repeats a run's end (a failed run is
 * escalated at once) is folded into that run's notice.
 */
export function notifyObserver(o: NotifyOptions): TickObserver | undefined {
  if (o.command === undefined && o.url === undefined) return undefined;
  const ledger = new Ledger(notifyFiles(o.dir, o.owner).ledger, o.log, o.now);
  const startedAt = o.now();
  const titles = new Map<string, string>();
  const files = new Map<string, string>();
  const queued = new Set<string>();
  const notifier = makeNotifier(o, {
    titleOf: (id) => titles.get(id) ?? titleFromFile(o.dir, files.get(id)),
    onDone: (key) => {
      queued.delete(key);
      ledger.add(key);
    },
    onChannelDone: (key, channel) => ledger.addChannel(key, channel),
  });
  let prev: Snapshot | undefined;
  let lastRunIds = new Set<string>();
  return {
    observe(snap: Snapshot): void {
      for (const r of snap.ready) remember(titles, r.id, r.title);
      for (const c of [...snap.claims, ...(snap.released ?? [])]) remember(files, c.id, c.path);
      const events = eventsBetween(prev, snap, o.owner, o.host, o.now()).filter((e) => !ledger.has(e.key) && !queued.has(e.key));
      const first = prev === undefined;
      prev = snap;
      const runIds = new Set(events.filter((e) => e.kind !== 'escalation').map((e) => e.id as string));
      const seen: string[] = [];
      const send: FleetEvent[] = [];
      for (const e of events) {
        const folded = e.kind === 'escalation' && /^run /.test(e.reason) && (runIds.has(e.id) || lastRunIds.has(e.id));
        if (folded || (first && !owed(e, snap, ledger, startedAt))) seen.push(e.key);
        else send.push(e);
      }
      lastRunIds = runIds;
      ledger.add(...seen);
      for (const e of send) {
        queued.add(e.key);
        ledger.owe(e.key);
        // The channels that already had it under the key the previous heartbeat owed it by.
        const before = first ? owedKey(e, ledger) : undefined;
        if (before !== undefined && before !== e.key) for (const c of ledger.channelsOf(before)) ledger.addChannel(e.key, c);
        notifier.notify(e, ledger.channelsOf(e.key));
      }
      if (first) ledger.settle(ledger.previousOwed);
      ledger.setActive(snap.escalations.map((e) => e.id));
    },
    close: async () => {
      await notifier.close();
      ledger.flush();
    },
  };
}

/** Keeps the newest TITLES_MAX entries. */
function remember(map: Map<string, string>, id: string, value: string): void {
  map.delete(id);
  map.set(id, value);
  for (const k of map.keys()) {
    if (map.size <= TITLES_MAX) break;
    map.delete(k);
  }
}

/** A claimed task's title, read from its file when a notice is sent (in the background, never in a tick); undefined when it cannot be read. */
function titleFromFile(dir: string, rel: string | undefined): string | undefined {
  if (rel === undefined) return undefined;
  try {
    const r = readTask(dir, rel, detectFormat(dir));
    return r.ok ? r.task.title : undefined;
  } catch {
    return undefined;
  }
}

/** On the first tick after a start: whether an event is one this heartbeat still owes (see notifyObserver). */
function owed(e: FleetEvent, snap: Snapshot, ledger: Ledger, startedAt: Date): boolean {
  if (owedKey(e, ledger) !== undefined) return true;
  if (e.kind === 'escalation' && (ledger.lastAt === undefined || ledger.previousActive.has(e.id))) return false;
  const marginMs = Math.max(60_000, 3 * snap.interval * 1000);
  const cutoff = (ledger.lastAt ?? startedAt).getTime() - marginMs;
  const at = e.kind === 'escalation' ? e.since : 'run' in e ? e.run.end ?? e.run.start : e.at;
  const ms = Date.parse(at);
  return Number.isNaN(ms) || ms >= cutoff;
}

/**
 * The key under which the previous heartbeat owed this event, if it did: its own key, or, for an
 * escalation, one of the same id (its since can be when a heartbeat first saw it, as for a parse
 * error, so it is not the same across a restart).
 */
function owedKey(e: FleetEvent, ledger: Ledger): string | undefined {
  if (ledger.previousOwed.has(e.key)) return e.key;
  return e.kind === 'escalation' ? [...ledger.previousOwed].find((k) => escalationIdOf(k) === e.id) : undefined;
}

/** The task id (or path) in an escalation's key, `escalation:<id>@<since>`; undefined for another key. */
function escalationIdOf(key: string): string | undefined {
  const at = key.lastIndexOf('@');
  return key.startsWith('escalation:') && at > 0 ? key.slice('escalation:'.length, at) : undefined;
}

/** What the watchdog of a running `serve` reports: the heartbeat restarted, or found stuck. */
export interface WatchdogNotice {
  readonly kind: 'restart' | 'stuck';
  readonly reason: string;
}

/**
 * The notifier `serve` gives its watchdog (undefined without notify= or notify_url=). Each report
 * is one event with a key of its own; the ledger is the heartbeat's alone (two writers would lose
 * each other's keys), and a watchdog's report is never seen twice anyway.
 */
export function watchdogNotifier(o: NotifyOptions): { readonly report: (n: WatchdogNotice) => void; readonly close: () => Promise<void> } | undefined {
  if (o.command === undefined && o.url === undefined) return undefined;
  const notifier = makeNotifier(o);
  let n = 0;
  return {
    report: ({ kind, reason }) => {
      const at = o.now().toISOString();
      const event: FleetEvent = { kind: kind === 'stuck' ? 'stuck' : 'watchdog-restart', key: `${kind}:${at}:${++n}`, id: null, reason, at };
      notifier.notify(event);
    },
    close: () => notifier.close(),
  };
}
