// The shared registry as the server's pages see it: read in the background every 2 s, the last good read kept, never waited for by a request.
import type { RegistryStore } from '../../manager/store.ts';
import type { Registry } from '../../manager/registry.ts';

/** A shared registry the server shows: the database URL (never shown as is) and the queue. */
export interface SharedRegistry {
  readonly url: string;
  /** undefined: from the repository's origin, as the heartbeat works it out. */
  readonly queue: string | undefined;
  /** This host's name in the queue ($TASK_MANAGER_HOST, else the hostname): claims of other hosts have their logs there. */
  readonly host: string;
}

export const POLL_MS = 2000;

/**
 * Reads the queue's claims, holds and history every POLL_MS (and when kicked: the snapshot
 * changed), one read at a time. A read that fails (the database down, a partition) is dropped:
 * the pages keep the last good registry, and the snapshot says since when it is unreachable.
 * onChange hears of a read that differs from the last one, so the pages are rebuilt only then.
 */
export class RegistryPoll {
  /** The last registry read; undefined until the first read succeeds. */
  last: Registry | undefined;
  private lastText = '';
  private store: RegistryStore | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: SharedRegistry & { readonly dir: string; readonly owner: string; readonly onChange: () => void }) {
    this.kick();
  }

  /** Reads now (or right after the read under way). */
  kick(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (this.closed) return;
      if (this.again) {
        this.again = false;
        this.kick();
        return;
      }
      this.timer = setTimeout(() => this.kick(), POLL_MS);
      // The poll never keeps the server's thread alive by itself.
      this.timer.unref();
    });
  }

  private async read(): Promise<void> {
    try {
      // Loaded here: a server on registry.json never loads the database client.
      const { openStore } = await import('../../manager/store.ts');
      this.store ??= await openStore({ dir: this.o.dir, owner: this.o.owner, registry: this.o.url, queue: this.o.queue, env: { TASK_MANAGER_HOST: this.o.host } });
      const reg = await this.store.peek();
      if (reg === undefined) return;
      const text = JSON.stringify(reg);
      if (text === this.lastText) return;
      this.last = reg;
      this.lastText = text;
      this.o.onChange();
    } catch {
      // Unreachable, a statement the server refused, no queue name yet (git failed): whatever it
      // was, the last good registry stands and the next poll tries again; the snapshot tells the
      // operator about the database. A throw here would be an unhandled rejection in the build thread.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.reading;
    await this.store?.close();
  }
}
