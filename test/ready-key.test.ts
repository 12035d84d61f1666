// The ready= key: a Backlog.md folder (statuses To Do / In Progress / Done) dispatches its unblocked
// To Do tasks with ready='To Do', and without it says why nothing dispatches.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli, killAll, readPid, runtimeFile, uniqueOwner, waitUntil } from './helpers.ts';

interface Backlog { root: string; dir: string; owner: string; ran: string; dispatch: string }

function task(id: string, title: string, status: string, deps: string[] = []): string {
  return `---\nid: ${id}\ntitle: ${title}\nstatus: ${status}\ndependencies: [${deps.join(', ')}]\npriority: medium\n---\n\n## Description\n\n${title}.\n`;
}

/** A Backlog.md folder: BACK-1 To Do, BACK-2 To Do blocked by BACK-3 (In Progress), BACK-4 Done. */
async function withBacklog(fn: (b: Backlog) => Promise<void>): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-ready-'));
  const dir = path.join(root, 'backlog');
  fs.mkdirSync(path.join(dir, 'tasks'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'), 'project_name: "Ready Fixture"\ndefault_status: "To Do"\nstatuses: ["To Do", "In Progress", "Done"]\ntask_prefix: "back"\n');
  fs.writeFileSync(path.join(dir, 'tasks', 'back-1 - Free.md'), task('BACK-1', 'Free', 'To Do'));
  fs.writeFileSync(path.join(dir, 'tasks', 'back-2 - Blocked.md'), task('BACK-2', 'Blocked', 'To Do', ['back-3']));
  fs.writeFileSync(path.join(dir, 'tasks', 'back-3 - Going.md'), task('BACK-3', 'Going', 'In Progress'));
  fs.writeFileSync(path.join(dir, 'tasks', 'back-4 - Finished.md'), task('BACK-4', 'Finished', 'Done'));
  const ran = path.join(root, 'ran.txt');
  try {
    await fn({ root, dir, owner: uniqueOwner('ready'), ran, dispatch: `printf '%s\\n' "$TASK_ID" >> '${ran}'` });
  } finally {
    await killAll(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function ranIds(b: Backlog): string[] {
  // Only whole lines: the shell creates the file before printf writes to it, and a read can come between.
  return fs.existsSync(b.ran) ? fs.readFileSync(b.ran, 'utf8').split('\n').slice(0, -1) : [];
}

test("ready='To Do' dispatches the unblocked To Do task of a Backlog.md folder, not the blocked one", async () => {
  await withBacklog(async (b) => {
    const r = await cli(['heartbeat', `owner=${b.owner}`, `dir=${b.dir}`, 'ready=To Do', `dispatch=${b.dispatch}`, 'worktrees=off', '--once', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as { dispatchNote: string | null; claims: { id: string }[] };
    assert.deepEqual(ranIds(b), ['BACK-1']);
    assert.deepEqual(snap.claims.map((c) => c.id), ['BACK-1']);
    assert.equal(snap.dispatchNote, null);
  });
});

test('a detached heartbeat gets ready= from ensure, and reports it as a setting', async () => {
  await withBacklog(async (b) => {
    const r = await cli(['ensure', `owner=${b.owner}`, `dir=${b.dir}`, 'ready=to-do,Review', `dispatch=${b.dispatch}`, 'worktrees=off', 'interval=0.5']);
    assert.equal(r.code, 0, r.stderr);
    await waitUntil(() => ranIds(b).length > 0, 'BACK-1 to be dispatched');
    assert.deepEqual(ranIds(b), ['BACK-1']);
    // Asked again with another ready=, the running heartbeat says which one it has.
    const again = await cli(['ensure', `owner=${b.owner}`, `dir=${b.dir}`, 'ready=ready']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /heartbeat already running \(pid \d+\) with ready=to-do,Review/);
    const pid = readPid(runtimeFile(b.dir, b.owner, 'heartbeat.pid'));
    if (pid !== undefined) process.kill(pid, 'SIGTERM');
  });
});

test('without ready=, a Backlog.md folder dispatches nothing and the snapshot and status say why', async () => {
  await withBacklog(async (b) => {
    const r = await cli(['heartbeat', `owner=${b.owner}`, `dir=${b.dir}`, `dispatch=${b.dispatch}`, 'worktrees=off', '--once', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as { dispatchNote: string | null; claims: unknown[] };
    assert.deepEqual(ranIds(b), []);
    assert.deepEqual(snap.claims, []);
    const note = "no task has status ready; this folder's statuses are To Do, In Progress, Done: pass ready='To Do' to dispatch To Do tasks";
    assert.equal(snap.dispatchNote, note);
    const s = await cli(['status', `owner=${b.owner}`, `dir=${b.dir}`]);
    assert.equal(s.code, 3, s.stderr);
    assert.ok(s.stdout.includes(`dispatch   nothing: ${note}`), s.stdout);
    const json = await cli(['status', `owner=${b.owner}`, `dir=${b.dir}`, '--json']);
    assert.equal((JSON.parse(json.stdout) as { dispatchNote: string }).dispatchNote, note);
  });
});

test('ready= refuses an empty entry and a finished status, in one line naming the value', async () => {
  await withBacklog(async (b) => {
    for (const [value, expected] of [['To Do,', /`ready` must list statuses separated by commas.*got `To Do,`/], ['Done', /`ready` must not include a finished status, got `Done`/]] as const) {
      const r = await cli(['status', `owner=${b.owner}`, `dir=${b.dir}`, `ready=${value}`]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, expected);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
