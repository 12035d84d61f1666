// The notifications' ledger (task-manager-<owner>.notify-sent.json): the keys of the events already handled and the escalations open at the last tick, so a restart sends nothing twice.
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
}

/**
 * The ledger, read once at start and written atomically (never through a link) once per turn
 * of the event loop in which it changed. A missing or damaged one starts empty; one that cannot be written (a full disk) is
 * kept in memory and said once in the heartbeat log.
 */
export class Ledger {
  private readonly sent = new Set<string>();
  private active: string[] = [];
  /** When the previous heartbeat last wrote the ledger; undefined: there was none. */
  readonly lastAt: Date | undefined;
  /** The escalations open when it did. */
  readonly previousActive: ReadonlySet<string>;
  private broken = false;
  private pending: NodeJS.Immediate | undefined;

  constructor(private readonly file: string | undefined, private readonly log: (line: string) => void, private readonly now: () => Date) {
    const read = file === undefined ? undefined : readLedger(file);
    for (const k of read?.sent ?? []) this.sent.add(k);
    this.active = read?.active ?? [];
    this.previousActive = new Set(this.active);
    this.lastAt = read === undefined ? undefined : new Date(read.at);
  }

  has(key: string): boolean {
    return this.sent.has(key);
  }

  /** Records keys as handled (sent, given up, or seen at start and not sent). */
  add(...keys: string[]): void {
    const fresh = keys.filter((k) => !this.sent.has(k));
    if (fresh.length === 0) return;
    for (const k of fresh) this.sent.add(k);
    // A Set keeps insertion order: the oldest keys go first.
    for (const k of this.sent) {
      if (this.sent.size <= LEDGER_MAX_KEYS) break;
      this.sent.delete(k);
    }
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

  private save(): void {
    if (this.file === undefined) return;
    const data: LedgerFile = { v: 1, at: this.now().toISOString(), sent: [...this.sent], active: this.active };
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
    return { v: 1, at: j.at, sent: strings(j.sent).slice(-LEDGER_MAX_KEYS), active: strings(j.active) };
  } catch {
    return undefined;
  }
}
