// The notifications' ledger (task-manager-<owner>.notify-sent.json): the keys of the events already handled (whole, or per channel), those still owed, and the escalations open at the last tick, so a restart sends nothing twice and drops nothing.
import { writeFileAtomic } from '../base/atomic.ts';
import { readTextFile } from '../base/jsonfile.ts';

/** Most keys kept (the newest): older events are also older than any restart's window, so they are never sent again. */
export const LEDGER_MAX_KEYS = 2000;

interface LedgerFile {
  v: 1;
  /** When a heartbeat last wrote it: the events after this are the ones a restart may still owe. */
  at: string;
  sent: string[];
  /** Escalated task ids (or parse-error paths) at the last tick written. */
  active: string[];
  /** Keys handled on some channels only: key → those channels' names (a restart sends on the others). */
  partial?: Record<string, string[]>;
  /** Keys queued and not yet handled when it was written: a restart sends them, whatever their age. */
  owed?: string[];
}

/**
 * The ledger, read at start and written atomically (never through a link) once per turn of the
 * event loop in which it changed. Each write first takes in the keys another writer (a
 * `heartbeat --once` beside the daemon) put there since, so neither drops the other's. A missing
 * or damaged one starts empty; one that cannot be written (a full disk) is kept in memory and
 * said once in the heartbeat log.
 */
export class Ledger {
  private readonly sent = new Set<string>();
  private active: string[] = [];
  private readonly partial = new Map<string, Set<string>>();
  private readonly owed = new Set<string>();
  /** Owed keys of an earlier heartbeat that this one will not send (the event is over): not taken back from the file. */
  private readonly settled = new Set<string>();
  /** When the previous heartbeat last wrote the ledger; undefined: there was none. */
  readonly lastAt: Date | undefined;
  /** The escalations open when it did. */
  readonly previousActive: ReadonlySet<string>;
  /** The keys it had queued and not handled. */
  readonly previousOwed: ReadonlySet<string>;
  private broken = false;
  private pending: NodeJS.Immediate | undefined;

  constructor(private readonly file: string | undefined, private readonly log: (line: string) => void, private readonly now: () => Date) {
    const read = file === undefined ? undefined : readLedger(file);
    if (read) this.absorb(read);
    this.active = read?.active ?? [];
    this.previousActive = new Set(this.active);
    this.previousOwed = new Set(read?.owed ?? []);
    this.lastAt = read === undefined ? undefined : new Date(read.at);
  }

  has(key: string): boolean {
    return this.sent.has(key);
  }

  /** The channels a key was handled on, when not on all of them yet. */
  channelsOf(key: string): ReadonlySet<string> {
    return this.partial.get(key) ?? new Set();
  }

  /** Records keys as handled (sent, given up, or seen at start and not sent). */
  add(...keys: string[]): void {
    const fresh = keys.filter((k) => !this.sent.has(k));
    if (fresh.length === 0) return;
    for (const k of fresh) {
      this.sent.add(k);
      this.partial.delete(k);
      this.owed.delete(k);
    }
    trim(this.sent);
    this.later();
  }

  /** Records a key as handled on one channel (the others may still be trying). */
  addChannel(key: string, channel: string): void {
    if (this.sent.has(key) || this.partial.get(key)?.has(channel)) return;
    const set = this.partial.get(key) ?? new Set<string>();
    set.add(channel);
    this.partial.set(key, set);
    trim(this.partial);
    this.later();
  }

  /** Records a key as queued: until it is handled, a restart sends it. */
  owe(key: string): void {
    if (this.sent.has(key) || this.owed.has(key)) return;
    this.owed.add(key);
    trim(this.owed);
    this.later();
  }

  /** The escalations open now; written only when they changed. */
  setActive(ids: readonly string[]): void {
    const next = [...new Set(ids)].sort();
    if (next.length === this.active.length && next.every((v, i) => v === this.active[i])) return;
    this.active = next;
    this.later();
  }

  /** Writes what changed now (the heartbeat's stop calls it; a write is otherwise made once per turn of the event loop, however many keys a tick added). */
  flush(): void {
    if (this.pending === undefined) return;
    clearImmediate(this.pending);
    this.pending = undefined;
    this.save();
  }

  private later(): void {
    this.pending ??= setImmediate(() => this.flush());
  }

  /** Owed keys of the previous heartbeat that this one will not send: no longer owed. */
  settle(keys: Iterable<string>): void {
    for (const k of keys) {
      if (this.owed.has(k)) continue;
      this.settled.add(k);
      this.partial.delete(k);
    }
    this.later();
  }

  /** Takes in what a ledger file holds: its handled keys (before ours: they are as old or older), per-channel keys and owed keys. */
  private absorb(read: LedgerFile): void {
    const ours = [...this.sent];
    this.sent.clear();
    for (const k of [...read.sent, ...ours]) this.sent.add(k);
    trim(this.sent);
    for (const [k, channels] of Object.entries(read.partial ?? {})) {
      if (this.sent.has(k) || this.settled.has(k)) continue;
      const set = this.partial.get(k) ?? new Set<string>();
      for (const c of channels) set.add(c);
      this.partial.set(k, set);
    }
    for (const k of this.partial.keys()) if (this.sent.has(k)) this.partial.delete(k);
    trim(this.partial);
    for (const k of this.owed) if (this.sent.has(k)) this.owed.delete(k);
  }

  private save(): void {
    if (this.file === undefined) return;
    // Another writer's keys since our last look are kept (a read that fails keeps ours as they are).
    const disk = readLedger(this.file);
    if (disk) this.absorb(disk);
    const owed = [...new Set([...(disk?.owed ?? []).filter((k) => !this.sent.has(k) && !this.settled.has(k)), ...this.owed])].slice(-LEDGER_MAX_KEYS);
    const data: LedgerFile = {
      v: 1, at: this.now().toISOString(), sent: [...this.sent], active: this.active,
      partial: Object.fromEntries([...this.partial].map(([k, set]) => [k, [...set]])), owed,
    };
    try {
      writeFileAtomic(this.file, `${JSON.stringify(data)}\n`);
      this.broken = false;
    } catch (err) {
      if (!this.broken) this.log(`${this.now().toISOString()} notify: the ledger ${this.file} cannot be written (${(err as Error).message}); events sent meanwhile may be sent again after a restart`);
      this.broken = true;
    }
  }
}

function readLedger(file: string): LedgerFile | undefined {
  let text: string | undefined;
  try {
    text = readTextFile(file);
  } catch {
    // A link, folder or FIFO in its place (or one that cannot be read): no ledger; the start's window keeps old events from flooding.
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const j = JSON.parse(text) as Partial<LedgerFile>;
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
    if (typeof j.at !== 'string' || Number.isNaN(Date.parse(j.at))) return undefined;
    const partial: Record<string, string[]> = {};
    if (j.partial && typeof j.partial === 'object' && !Array.isArray(j.partial)) {
      for (const [k, v] of Object.entries(j.partial)) if (strings(v).length) partial[k] = strings(v);
    }
    return { v: 1, at: j.at, sent: strings(j.sent).slice(-LEDGER_MAX_KEYS), active: strings(j.active), partial, owed: strings(j.owed).slice(-LEDGER_MAX_KEYS) };
  } catch {
    return undefined;
  }
}

/** Keeps the newest LEDGER_MAX_KEYS entries (a Set or Map keeps insertion order: the oldest go first). */
function trim(c: Set<string> | Map<string, unknown>): void {
  for (const k of c.keys()) {
    if (c.size <= LEDGER_MAX_KEYS) break;
    c.delete(k);
  }
}
