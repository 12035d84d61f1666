// `prune`: remove the worktrees of completed or cancelled tasks that hold no uncommitted work, and their merged branches.
import type { Options } from '../args.ts';
import type { Cli } from '../context.ts';
import { TasksError } from '../../base/errors.ts';
import { findRepo } from '../../base/git.ts';
import { type BranchOutcome, type PruneItem, pruneWorktrees } from '../../manager/prune.ts';
import { withStore } from '../store.ts';
import { TaskScanner } from '../../tasks/scan.ts';
import { terminalText } from '../context.ts';

export async function run(o: Options, cli: Cli): Promise<number> {
  const found = await findRepo(o.dir);
  // A git that fails is no answer: prune says so rather than "nothing to prune".
  if (found.kind === 'failed') throw new TasksError(`git failed: ${found.reason}; nothing was pruned`);
  if (found.kind === 'none') {
    const note = `nothing to prune: ${o.dir} is not inside a git repository, so no worktrees are made`;
    cli.out(o.json ? JSON.stringify({ repo: null, base: null, removed: [], kept: [], branches: [], note }) : note);
    return 0;
  }
  const repo = found.root;
  const tasks = new TaskScanner(o.dir, { keepBody: false }).scan().tasks;
  // A worktree some host's claim still uses is kept: the claims are the store's (every host's, when shared).
  const registry = await withStore(o, cli, (store) => store.peek());
  const report = await pruneWorktrees({ repo, base: o.base, tasks, registry, env: cli.env });
  if (o.json) {
    cli.out(JSON.stringify(report));
    return 0;
  }
  const branchText = (b: BranchOutcome): string => (b.deleted ? `deleted branch ${b.name} (${b.reason})` : `kept branch ${b.name}: ${b.reason}`);
  const removedLine = (r: PruneItem): string => `removed ${r.path} (${r.reason})${r.branch ? `; ${branchText(r.branch)}` : ''}`;
  const lines = [
    ...report.removed.map(removedLine),
    ...report.kept.map((k) => `kept ${k.path}: ${k.reason}`),
    ...report.branches.map((b) => `${branchText(b)}; its worktree was already gone`),
  ];
  if (lines.length === 0) lines.push(`nothing to prune: no worktrees in ${repo}/.worktrees and no merged task branches of finished tasks`);
  for (const line of lines) cli.out(terminalText(line));
  return 0;
}
