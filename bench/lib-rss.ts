// A process's resident memory sampled over a benchmark's phases: the peak of each phase and when it came, so a peak can be traced to what ran then.
import fs from 'node:fs';

/** VmRSS of a process in MB (0 once it is gone). */
function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every 20 ms from now (pid() is asked each time: a pid file may name it later); mark() closes a phase under a name. */
export class RssTrace {
  private readonly phases: { name: string; peak: number; at: number }[] = [];
  private peak = 0;
  private at = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: () => number, private readonly t0: number) {
    this.timer = setInterval(() => this.sample(), 20).unref();
  }

  private sample(): void {
    const mb = rssMb(this.pid());
    if (mb > this.peak) {
      this.peak = mb;
      this.at = performance.now() - this.t0;
    }
  }

  /** Ends the current phase (its peak and when it came) and starts the next. */
  mark(name: string): void {
    this.sample();
    this.phases.push({ name, peak: this.peak, at: this.at });
    this.peak = 0;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** `to <phase> <peak> MB at <s>` for every phase. */
  summary(): string {
    return this.phases.map((p) => `to ${p.name} ${p.peak.toFixed(0)} MB at ${(p.at / 1000).toFixed(1)} s`).join('; ');
  }
}
