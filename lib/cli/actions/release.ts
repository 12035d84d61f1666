// `release` and `retry`: drop a task's claim (kept in history); retry makes the task dispatchable again.
import type { Options } from '../args.ts';
import { type Cli, dirArg } from '../context.ts';
import { quoteText } from '../../base/controls.ts';
import { TasksError } from '../../base/errors.ts';
import { shellArg } from '../../base/shellword.ts';
import { runAlive } from '../../manager/claims.ts';
import { type Claim, release } from '../../manager/registry.ts';
import type { RegistryStore } from '../../manager/store.ts';
import { RUN_GRACE_MS, findMarked, stopRun } from '../../supervise/runs-proc.ts';
import { foreignHost, withStore } from '../store.ts';
import { findTask } from '../task-ref.ts';

/** What happened, as --json prints it. */
interface Outcome {
  id: string;
  action: 'release' | 'retry';
  /** The claim that was released, if there was one. */
  released: { owner: string; state: string; exitCode: number | null; host?: string } | null;
  /** Processes of a live run stopped first (--force). */
  stopped: { found: number; killed: number } | null;
  /** True when the task is now held back from dispatch (release), false when it is dispatchable (retry). */
  held: boolean;
}

/** True while any process of the claim's run lives: its shell, or anything carrying its run marker. */
function alive(claim: Claim): boolean {
  return runAlive(claim) || (claim.runId ? findMarked((p) => p.runId === claim.runId).length > 0 : false);
}

export function run(o: Options, cli: Cli): Promise<number> {
  return withStore(o, cli, (store) => releaseIn(store, o, cli));
}

async function releaseIn(store: RegistryStore, o: Options, cli: Cli): Promise<number> {
  const action = o.action === 'retry' ? 'retry' : 'release';
  const task = findTask(o.dir, o.id as string, await store.peek());
  const claim = task.claim?.claim;
  // The id comes from a file anyone can write: shown quoted when it needs it, and shell-quoted in hints.
  const shown = quoteText(task.id);
  const idWords = `${shellArg('id', task.id)}${dirArg(o, cli)}`;
  // A claim another host holds (shared registry): its pids are that host's, never signalled here.
  // Deleting its row is the release; that host's heartbeat ends the run when it sees the row gone.
  const remote = foreignHost(claim, cli.env);
  const remoteRun = remote !== undefined && (claim?.state === 'running' || claim?.state === 'claimed');
  let stopped: Outcome['stopped'] = null;
  if (claim && remoteRun && !o.force) {
    throw new TasksError(`${shown} is ${claim.state} on host ${quoteText(remote)} (claimed by ${quoteText(claim.claimedBy)}); wait for it, or ${action} it with: just tasks ${action} ${idWords} --force (that host's heartbeat ends the run at its next tick)`);
  }
  // A retry would let any host start the task while that host's run still goes (until its next
  // tick, or until it fences if it lost the database): release holds the task meanwhile.
  if (claim && remoteRun && action === 'retry') {
    throw new TasksError(`${shown} is ${claim.state} on host ${quoteText(remote)}: first just tasks release ${idWords} --force (that host's heartbeat ends the run at its next tick, and the task is held meanwhile), then just tasks retry ${idWords}`);
  }
  if (claim && remote === undefined && alive(claim)) {
    if (!o.force) {
      throw new TasksError(`${shown} is running (pid ${claim.pid ?? 'unknown'}, claimed by ${quoteText(claim.claimedBy)}); wait for it, or stop it and ${action} with: just tasks ${action} ${idWords} --force`);
    }
    if (!claim.runId) throw new TasksError(`${shown}'s run carries no run marker (started by an older heartbeat); stop pid ${claim.pid ?? 'unknown'} yourself, then ${action} it`);
    const r = await stopRun(claim.runId, RUN_GRACE_MS, [cli.self.pid, cli.self.ppid]);
    if (r.survivors.length) throw new TasksError(`${shown}'s run survived SIGKILL (pids ${r.survivors.join(', ')}); nothing was released`);
    stopped = { found: r.found, killed: r.killed };
  }
  const now = new Date();
  const by = `${o.owner} (${action})`;
  const held = action === 'release';
  await store.update((r) => {
    const key = task.claim?.key;
    if (key !== undefined && r.claims[key]) release(r, key, `${action} by ${o.owner}${stopped ? ' (--force: run stopped)' : ''}`, now);
    if (held) r.holds[task.id] = { since: now.toISOString(), by };
    else delete r.holds[task.id];
  }, { now: () => now, log: cli.note });
  const outcome: Outcome = {
    id: task.id,
    action,
    released: claim ? { owner: claim.claimedBy, state: claim.state, exitCode: claim.exitCode, ...(claim.host === undefined ? {} : { host: claim.host }) } : null,
    stopped,
    held,
  };
  if (o.json) {
    cli.out(JSON.stringify(outcome));
    return 0;
  }
  const what = claim && remoteRun
    ? `released ${shown} (held by host ${quoteText(remote ?? '')}: its heartbeat ends the run at its next tick)`
    : claim
    ? `released ${shown} (claimed by ${quoteText(claim.claimedBy)}, run ${claim.state}${claim.exitCode !== null ? ` with exit code ${claim.exitCode}` : ''}${stopped ? `; stopped ${stopped.found} process${stopped.found === 1 ? '' : 'es'} of its run${stopped.killed ? `, ${stopped.killed} after the grace` : ''}` : ''}; kept in history)`
    : `${shown} had no claim`;
  cli.out(held
    ? `${what}; it is held back from dispatch until: just tasks retry ${idWords}`
    : `${what}; queued for the next tick: the heartbeat dispatches it then if its status still counts as ready`);
  return 0;
}
