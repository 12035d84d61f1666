// A small limit on how many background jobs (git, gh) run at once, so a tick never floods 2 cores.

/** Runs jobs with at most `size` of them at a time, in the order they were asked for. */
export class Pool {
  private readonly size: number;
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(size: number) {
    this.size = Math.max(1, size);
  }

  /** Runs fn when a place is free; resolves or rejects with it. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A finished job hands its place straight to the next in line, so a newcomer cannot slip in between.
    if (this.running >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** Resolves when every promise has settled or ms have passed, whichever comes first (the timer never holds the process). */
export async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const all = Promise.allSettled(promises).then(() => undefined);
  if (!Number.isFinite(ms)) return all;
  try {
    await Promise.race([all, new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, ms)); timer.unref(); })]);
  } finally {
    clearTimeout(timer);
  }
}
