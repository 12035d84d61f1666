// One run's claim on its own: whether its process lives and how a heartbeat's knowledge of it goes
// back into the registry. Split from claims.ts so runs.ts can use it without claims.ts importing runs.ts back.
import { type Claim, type Registry, claimKeyOfRun } from './registry.ts';
import { isRunning, readStat } from '../supervise/proc.ts';

/** The run fields a heartbeat owns; the rest of a claim (id, path, file) follows the registry. */
const RUN_FIELDS = ['pid', 'pidStart', 'state', 'exitCode', 'endedAt', 'note', 'log', 'runId'] as const;

/** True when the claim's run (its shell, by pid and start time) is still alive. */
export function runAlive(claim: Claim): boolean {
  return claim.pid !== null && isRunning(claim.pid) && readStat(claim.pid)?.starttime === claim.pidStart;
}

/**
 * Puts a heartbeat's own knowledge of one run into the registry: a claim that went missing (a
 * lost or rebuilt registry, a failed write) is put back unless it was released; the run fields
 * follow the run, and the claim's id, path and file follow the registry (a rename re-keys it
 * there), copied back into run. Returns why it could not be put back, if so.
 */
export function putRun(reg: Registry, run: Claim, putBack = true): string | undefined {
  const key = run.runId ? claimKeyOfRun(reg, run.runId) : Object.keys(reg.claims).find((k) => run.pid !== null && reg.claims[k]?.pid === run.pid);
  const c = key === undefined ? undefined : reg.claims[key];
  // A shared registry's row goes only by release or takeover: its run is stopped, never put back.
  if (c === undefined && !putBack) return undefined;
  if (c === undefined) {
    if (reg.history.some((h) => (run.runId && h.runId === run.runId) || (h.pid === run.pid && h.pidStart === run.pidStart))) return undefined;
    const holder = reg.claims[run.id];
    // Another host's claim is alive as far as this host can tell: never written over.
    if (holder && (holder.host !== run.host || runAlive(holder))) return `run ${run.runId} of ${run.id} has no claim, and another live run holds the task; not putting it back`;
    reg.claims[run.id] = { ...run };
    return undefined;
  }
  Object.assign(run, { id: c.id, path: c.path, fileId: c.fileId ?? null });
  for (const f of RUN_FIELDS) if (run[f] !== undefined) (c as unknown as Record<string, unknown>)[f] = run[f];
  return undefined;
}
