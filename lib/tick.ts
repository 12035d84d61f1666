import fs from 'node:fs';
import path from 'node:path';

/** What a tick needs to know; the heartbeat owns the loop, the tick owns the work. */
export interface TickInput {
  readonly owner: string;
  readonly dir: string;
  readonly pid: number;
  readonly interval: number;
  readonly tick: number;
  readonly now: () => Date;
}

/** The snapshot written after every tick (SPEC §6); field names are an interface. */
export interface Snapshot {
  owner: string;
  pid: number;
  dir: string;
  tick: number;
  tickAt: string;
  tickDurationMs: number;
  interval: number;
  nextTickAt: string;
  taskCount: number;
  counts: Record<string, number>;
  ready: unknown[];
  claims: unknown[];
  escalations: { id: string; reason: string; since: string }[];
  errors: { path: string; reason: string }[];
}

/** One tick of work; stateful so it can keep caches between ticks. */
export interface Ticker {
  tick(input: TickInput): Promise<Snapshot>;
  /** Called once when the heartbeat stops. */
  close(): Promise<void>;
}

/** Lists the task files (*.md) under dir, skipping logs/ and symlinks. */
export function listTaskFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (folder === dir && entry.name === 'logs') continue;
        if (entry.name.startsWith('.')) continue;
        walk(full);
      } else if (entry.isFile() && entry.name.endsWith('.md')) {
        found.push(full);
      }
    }
  };
  walk(dir);
  return found.sort();
}

/** The first ticker: counts task files. */
export function countingTicker(): Ticker {
  return {
    async tick(input: TickInput): Promise<Snapshot> {
      const started = input.now();
      const files = listTaskFiles(input.dir);
      const ended = input.now();
      return {
        owner: input.owner,
        pid: input.pid,
        dir: input.dir,
        tick: input.tick,
        tickAt: started.toISOString(),
        tickDurationMs: ended.getTime() - started.getTime(),
        interval: input.interval,
        nextTickAt: new Date(started.getTime() + input.interval * 1000).toISOString(),
        taskCount: files.length,
        counts: { total: files.length },
        ready: [],
        claims: [],
        escalations: [],
        errors: [],
      };
    },
    async close(): Promise<void> {},
  };
}
