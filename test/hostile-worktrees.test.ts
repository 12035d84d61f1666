import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cli, killAll, runPids, uniqueOwner, commitAll, makeRepo } from './helpers.ts';

/**
 * A cloned repository may commit anything under .worktrees/: a folder shaped like a bare
 * repository whose config runs a command, a link to the main checkout, or .worktrees itself as a
 * link out of the repository. None of it may make git obey that config, a run start outside a
 * worktree this tool made, or git write outside the repository.
 */
interface Repo { root: string; repo: string; dir: string; out: string; owner: string; victim: string; marker: string }

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function task(id: string): string {
  return `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\n---\n## Plan\n- [ ] do it\n`;
}

/** A repository with tasks/T1.md ready and what `plant` commits under it; a victim folder and the outputs live beside it. */
async function withHostileRepo(plant: (r: Repo) => void, fn: (r: Repo) => Promise<void>): Promise<void> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-hostile-wt-')));
  const repo = path.join(root, 'repo');
  const r: Repo = { root, repo, dir: path.join(repo, 'tasks'), out: path.join(root, 'out'), owner: uniqueOwner('hw'), victim: path.join(root, 'victim'), marker: path.join(root, 'out', 'PWNED') };
  for (const d of [r.dir, r.out, r.victim]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(r.victim, 'precious.txt'), 'the operator\'s file\n');
  fs.writeFileSync(path.join(r.dir, 'T1.md'), task('T1'));
  makeRepo(repo, 'tasks/logs/\n');
  plant(r);
  commitAll(repo, 'hostile');
  try {
    await fn(r);
  } finally {
    await killAll(root, runPids(root));
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** A dispatch command that writes the real folder it runs in outside the repository, and leaves a mark where it ran. */
function recorder(r: Repo): string {
  const script = path.join(r.out, 'record.sh');
  fs.writeFileSync(script, `#!/bin/sh\npwd -P >> "${r.out}/ran.txt"\ntouch RUN_WAS_HERE\n`, { mode: 0o755 });
  return `dispatch=${script}`;
}

/** Every entry under a folder (links not followed): its kind, mode and content, hashed. */
function hashTree(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      h.update(`${path.relative(dir, p)}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else h.update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** A `git` on PATH that writes the real folder of every call to out/git-cwds.txt, then runs the real git. */
function loggingGit(r: Repo): Record<string, string> {
  const bin = path.join(r.out, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(path.join(bin, 'git'), `#!/bin/sh\npwd -P >> "${r.out}/git-cwds.txt"\nexec "${real}" "$@"\n`, { mode: 0o755 });
  return { ...process.env as Record<string, string>, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

/** The folders git was run in, per loggingGit. */
function gitCwds(r: Repo): string[] {
  const file = path.join(r.out, 'git-cwds.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
}

async function onceJson(r: Repo, env?: Record<string, string>): Promise<Record<string, any>> {
  const res = await cli(['heartbeat', `owner=${r.owner}`, `dir=${r.dir}`, '--once', '--json', recorder(r)], env ? { env } : {});
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as Record<string, any>;
}

function assertNothingRan(r: Repo): void {
  assert.ok(!fs.existsSync(path.join(r.out, 'ran.txt')), `the dispatch ran in ${fs.existsSync(path.join(r.out, 'ran.txt')) ? fs.readFileSync(path.join(r.out, 'ran.txt'), 'utf8') : ''}`);
  assert.ok(!fs.existsSync(path.join(r.repo, 'RUN_WAS_HERE')), 'a run in the main checkout');
}

function escalation(snap: Record<string, any>, id: string): string {
  return (snap.escalations as { id: string; reason: string }[]).find((e) => e.id === id)?.reason ?? `(no escalation of ${id}: ${JSON.stringify(snap.escalations)})`;
}

describe('hostile .worktrees content committed in the repository', () => {
  test('a bare-repository-shaped .worktrees/T1 with a core.fsmonitor: git never obeys it, the task is not started and escalated', async () => {
    await withHostileRepo((r) => {
      const evil = path.join(r.repo, '.worktrees', 'T1');
      for (const d of ['objects', 'refs']) fs.mkdirSync(path.join(evil, d), { recursive: true });
      for (const d of ['objects', 'refs']) fs.writeFileSync(path.join(evil, d, '.keep'), '');
      fs.writeFileSync(path.join(evil, 'HEAD'), 'ref: refs/heads/evil-head\n');
      fs.writeFileSync(path.join(evil, 'config'), `[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = "echo pwned-by-$PPID >> ${r.marker}; false"\n`);
    }, async (r) => {
      const env = loggingGit(r);
      const evil = path.join(r.repo, '.worktrees', 'T1');
      for (let i = 0; i < 2; i++) {
        const snap = await onceJson(r, env);
        assert.equal(escalation(snap, 'T1'), 'run not started: .worktrees/T1 is not a worktree of this repository (it has no .git file); remove it and retry');
        assert.ok(!JSON.stringify(snap).includes('evil-head'), `git read the committed HEAD: ${JSON.stringify(snap.claims)}`);
      }
      assert.deepEqual(gitCwds(r).filter((d) => d.startsWith(evil)), [], 'git was run inside the committed folder');
      assert.ok(gitCwds(r).length > 0, 'the logging git was used');
      assert.ok(!fs.existsSync(r.marker), `git obeyed the committed config: ${fs.existsSync(r.marker) ? fs.readFileSync(r.marker, 'utf8') : ''}`);
      assertNothingRan(r);
      // prune does not run git in it either.
      const pruned = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`], { env });
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.match(pruned.stdout, /^kept \.worktrees\/T1: not a git worktree of this repository; left alone$/m);
      assert.deepEqual(gitCwds(r).filter((d) => d.startsWith(evil)), [], 'prune ran git inside the committed folder');
      assert.ok(!fs.existsSync(r.marker), 'prune made git obey the committed config');
    });
  });

  test('a link .worktrees/T1 -> .. : the run never starts in the main checkout', async () => {
    await withHostileRepo((r) => {
      fs.mkdirSync(path.join(r.repo, '.worktrees'));
      fs.symlinkSync('..', path.join(r.repo, '.worktrees', 'T1'));
    }, async (r) => {
      const snap = await onceJson(r);
      assertNothingRan(r);
      assert.equal(escalation(snap, 'T1'), 'run not started: .worktrees/T1 is not a worktree of this repository (it is a symbolic link); remove it and retry');
      assert.equal(gitIn(r.repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length, 1, 'no worktree was added');
    });
  });

  test('a link .worktrees -> ../victim: no worktree is added through it, nothing runs, the victim is unchanged', async () => {
    await withHostileRepo((r) => {
      fs.symlinkSync('../victim', path.join(r.repo, '.worktrees'));
    }, async (r) => {
      const before = hashTree(r.victim);
      const snap = await onceJson(r);
      assertNothingRan(r);
      assert.equal(escalation(snap, 'T1'), `run not started: ${path.join(r.repo, '.worktrees')} is a symbolic link; remove it (rm ${path.join(r.repo, '.worktrees')}) and run again`);
      const pruned = await cli(['prune', `owner=${r.owner}`, `dir=${r.dir}`]);
      assert.equal(pruned.code, 1, pruned.stdout);
      assert.match(pruned.stderr, /\.worktrees is a symbolic link; remove it \(rm .*\) and run again; nothing was pruned/);
      assert.equal(hashTree(r.victim), before, 'the victim folder changed');
    });
  });
});
