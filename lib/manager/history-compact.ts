// Keeping history bounded: old ticks downsampled (raw for a day, 5-minute buckets to a week, hourly to a year), runs capped by count and age.
import type { RunRecord, TickRecord } from './fleet-events.ts';
import { runTime } from './history-file.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How ticks are kept by age: every tick for a day, one record per 5 minutes to a week, one per hour
 * to a year, none older. A year of 30 s ticks is then about 2,900 + 1,700 + 8,600 records (about
 * 2 MB) instead of a million.
 */
export const TICK_TIERS: readonly { readonly upToMs: number; readonly bucketMs: number }[] = [
  { upToMs: DAY, bucketMs: 0 },
  { upToMs: 7 * DAY, bucketMs: 5 * MINUTE },
  { upToMs: 366 * DAY, bucketMs: HOUR },
];

/** Runs kept: the last RUNS_MAX, none older than RUNS_MAX_AGE_MS (a year). */
export const RUNS_MAX = 10_000;
export const RUNS_MAX_AGE_MS = 366 * DAY;

/**
 * Ticks (oldest first) downsampled by age: the ticks of one bucket become one record with the last
 * tick's figures and time and n the ticks it stands for. Buckets are aligned to the epoch and 5
 * minutes divide an hour, so compacting again (or a record already merged) gives the same result.
 */
export function compactTicks(ticks: readonly TickRecord[], now: Date): TickRecord[] {
  const out: TickRecord[] = [];
  let bucket: string | undefined;
  for (const t of ticks) {
    const at = Date.parse(t.at);
    const age = now.getTime() - at;
    const tier = TICK_TIERS.find((x) => age <= x.upToMs);
    if (!tier) continue;
    if (tier.bucketMs === 0) {
      out.push(t);
      bucket = undefined;
      continue;
    }
    const key = `${tier.bucketMs}:${Math.floor(at / tier.bucketMs)}`;
    const last = out[out.length - 1];
    if (bucket === key && last) {
      out[out.length - 1] = { ...t, n: (last.n ?? 1) + (t.n ?? 1) };
    } else {
      out.push(t);
      bucket = key;
    }
  }
  return out;
}

/** Runs (oldest first) within the count and age caps. */
export function trimRuns(runs: readonly RunRecord[], now: Date): RunRecord[] {
  const oldest = now.getTime() - RUNS_MAX_AGE_MS;
  const kept = runs.filter((r) => runTime(r) >= oldest);
  return kept.length > RUNS_MAX ? kept.slice(kept.length - RUNS_MAX) : kept;
}
