import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { withTree } from './helpers.ts';
import type { ScanResult } from '../lib/tasks/scan.ts';

const task = (id: string, extra = ''): string => `---\nid: ${id}\nstatus: ready\n${extra}---\n## Plan\n- [ ] do it\n`;

const ids = (r: ScanResult): string[] => r.tasks.map((t) => t.id);
const paths = (r: ScanResult): string[] => r.tasks.map((t) => t.path);

test('scan finds .md files in nested folders, sorted by path, with / separators', () => {
  withTree({
    'b.md': task('B'),
    'a/z.md': task('AZ'),
    'a/b/c.md': task('ABC'),
    'a-b/x.md': task('ABX'),
    'notes.txt': 'not a task',
    'area/logs/kept.md': task('NESTED-LOGS'),
  }, (root) => {
    const r = new TaskScanner(root).scan();
    assert.deepEqual(paths(r), ['a-b/x.md', 'a/b/c.md', 'a/z.md', 'area/logs/kept.md', 'b.md']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.files, 5);
    assert.equal(r.read, 5);
    assert.equal(r.reused, 0);
  });
});

test('scan skips the top-level logs/ folder and hidden folders', () => {
  withTree({
    'a.md': task('A'),
    'logs/task_manager/runs/x.md': task('LOG'),
    '.git/x.md': task('GIT'),
    '.worktrees/a/a.md': task('A'),
    '._a.md': '\u0000binary',
  }, (root) => {
    const r = new TaskScanner(root).scan();
    assert.deepEqual(ids(r), ['A']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.files, 1);
  });
});

test('scan does not follow symlinks to files or folders outside the tasks folder', () => {
  withTree({ 'inside/a.md': task('A'), 'outside/secret.md': task('SECRET'), 'outside/dir/deep.md': task('DEEP') }, (root) => {
    const tasks = path.join(root, 'inside');
    fs.symlinkSync(path.join(root, 'outside', 'secret.md'), path.join(tasks, 'link.md'));
    fs.symlinkSync(path.join(root, 'outside', 'dir'), path.join(tasks, 'linkdir'));
    fs.symlinkSync(path.join(tasks, 'a.md'), path.join(tasks, 'inner-link.md'));
    fs.symlinkSync(path.join(root, 'missing.md'), path.join(tasks, 'dangling.md'));
    const r = new TaskScanner(tasks).scan();
    assert.deepEqual(ids(r), ['A']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.files, 1);
  });
});

test('scan skips a FIFO named .md without opening it', () => {
  withTree({ 'a.md': task('A') }, (root) => {
    execFileSync('mkfifo', [path.join(root, 'pipe.md')]);
    // Opening the FIFO for reading would block this test forever; finishing is the assertion.
    const r = new TaskScanner(root).scan();
    assert.deepEqual(ids(r), ['A']);
    assert.deepEqual(r.errors, []);
  });
});

test('scan is incremental: unchanged files are reused, a changed file is re-read', () => {
  withTree({ 'a.md': task('A'), 'b.md': task('B'), 'sub/c.md': task('C') }, (root) => {
    const scanner = new TaskScanner(root);
    const first = scanner.scan();
    assert.deepEqual({ read: first.read, reused: first.reused, files: first.files }, { read: 3, reused: 0, files: 3 });

    const second = scanner.scan();
    assert.deepEqual({ read: second.read, reused: second.reused, files: second.files }, { read: 0, reused: 3, files: 3 });
    assert.deepEqual(second.tasks, first.tasks);

    const file = path.join(root, 'b.md');
    fs.writeFileSync(file, task('B', 'owner: dave\n'));
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(file, later, later);
    const third = scanner.scan();
    assert.deepEqual({ read: third.read, reused: third.reused, files: third.files }, { read: 1, reused: 2, files: 3 });
    assert.equal(third.tasks.find((t) => t.id === 'B')?.owner, 'dave');
  });
});

test('scan re-reads a file whose size changed even when its mtime did not', () => {
  withTree({ 'a.md': task('A') }, (root) => {
    const file = path.join(root, 'a.md');
    const scanner = new TaskScanner(root);
    scanner.scan();
    const { atime, mtime } = fs.statSync(file);
    fs.writeFileSync(file, task('A', 'milestone: m2\n'));
    fs.utimesSync(file, atime, mtime);
    const r = scanner.scan();
    assert.equal(r.read, 1);
    assert.equal(r.tasks[0]?.milestone, 'm2');
  });
});

test('a removed file drops out; a new file is picked up', () => {
  withTree({ 'a.md': task('A'), 'b.md': task('B'), 'bad.md': 'no frontmatter' }, (root) => {
    const scanner = new TaskScanner(root);
    assert.deepEqual(ids(scanner.scan()), ['A', 'B']);
    fs.rmSync(path.join(root, 'b.md'));
    fs.rmSync(path.join(root, 'bad.md'));
    fs.writeFileSync(path.join(root, 'c.md'), task('C'));
    const r = scanner.scan();
    assert.deepEqual(ids(r), ['A', 'C']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual({ read: r.read, reused: r.reused, files: r.files }, { read: 1, reused: 1, files: 2 });
  });
});

test('parse errors are reported by path and keep being reported from the cache', () => {
  withTree({ 'a.md': task('A'), 'z/bin.md': '\u0000\u0001', 'm.md': '---\nid: [x\n---\n' }, (root) => {
    const scanner = new TaskScanner(root);
    for (const r of [scanner.scan(), scanner.scan()]) {
      assert.deepEqual(ids(r), ['A']);
      assert.deepEqual(r.errors.map((e) => e.path), ['m.md', 'z/bin.md']);
      assert.match(r.errors[0]?.reason ?? '', /invalid YAML/);
      assert.equal(r.errors[1]?.reason, 'not a UTF-8 text file');
    }
  });
});

test('duplicate ids: the second and later files in path order are errors naming the first', () => {
  withTree({ 'b/one.md': task('SAME'), 'a/one.md': task('SAME'), 'c.md': task('SAME'), 'slug.md': task('OTHER') }, (root) => {
    const scanner = new TaskScanner(root);
    for (const r of [scanner.scan(), scanner.scan()]) {
      assert.deepEqual(paths(r), ['a/one.md', 'slug.md']);
      assert.deepEqual(r.errors, [
        { path: 'b/one.md', reason: 'duplicate id SAME (also in a/one.md)' },
        { path: 'c.md', reason: 'duplicate id SAME (also in a/one.md)' },
      ]);
    }
  });
});

test('duplicate file names: two active tasks never share a slug (their worktree, branch and run log); archived copies may', () => {
  withTree({ 'a/x.md': task('ONE'), 'b/x.md': task('TWO'), 'c/x.md': task('THREE'), 'archive/x.md': task('OLD'), 'X.md': task('CASE') }, (root) => {
    const scanner = new TaskScanner(root);
    for (const r of [scanner.scan(), scanner.scan()]) {
      assert.deepEqual(ids(r).sort(), ['CASE', 'OLD', 'ONE']);
      assert.deepEqual(r.errors, [
        { path: 'b/x.md', reason: 'duplicate file name x.md (also in a/x.md): it names the task\'s worktree, branch and run log; rename one' },
        { path: 'c/x.md', reason: 'duplicate file name x.md (also in a/x.md): it names the task\'s worktree, branch and run log; rename one' },
      ]);
    }
  });
});

test('an id that falls back to the slug can clash with an explicit id', () => {
  withTree({ 'a/x.md': '---\ntitle: no id\n---\n', 'b.md': task('x') }, (root) => {
    const r = new TaskScanner(root).scan();
    assert.deepEqual(paths(r), ['a/x.md']);
    assert.deepEqual(r.errors, [{ path: 'b.md', reason: 'duplicate id x (also in a/x.md)' }]);
  });
});

// Root reads any file, and CI runs as root: the scan runs in a child dropped to an unprivileged
// user (setpriv) that owns the locked file, so the EACCES path runs everywhere instead of being
// skipped. The child scans, unlocks the file (it is its owner), and scans again with the same scanner.
const asRoot = process.getuid?.() === 0;
type Scanned = { ids: string[]; errors: { path: string; reason: string }[] };
function scanLockedAndRetry(root: string, file: string): { first: Scanned; second: Scanned } {
  const code = `import fs from 'node:fs';
    import { TaskScanner } from ${JSON.stringify(path.join(import.meta.dirname, '../lib/tasks/scan.ts'))};
    const s = new TaskScanner(${JSON.stringify(root)});
    const shape = (r) => ({ ids: r.tasks.map((t) => t.id), errors: r.errors });
    const first = shape(s.scan());
    fs.chmodSync(${JSON.stringify(file)}, 0o644);
    console.log(JSON.stringify({ first, second: shape(s.scan()) }));`;
  const node = [process.execPath, '--import', import.meta.resolve('tsx'), '--input-type=module', '-e', code];
  const argv = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  const env = { ...process.env, NODE_OPTIONS: '', HOME: os.tmpdir() };
  return JSON.parse(execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', env })) as { first: Scanned; second: Scanned };
}

test('an unreadable file is a parse error, not a throw, and is retried', () => {
  withTree({ 'a.md': task('A'), 'locked.md': task('LOCKED') }, (root) => {
    fs.chmodSync(root, 0o755);
    const file = path.join(root, 'locked.md');
    if (asRoot) fs.chownSync(file, 65534, 65534);
    fs.chmodSync(file, 0o000);
    const { first, second } = scanLockedAndRetry(root, file);
    assert.deepEqual(first.ids, ['A']);
    assert.equal(first.errors[0]?.path, 'locked.md');
    assert.match(first.errors[0]?.reason ?? '', /^cannot read file: EACCES/);
    assert.deepEqual(second.ids, ['A', 'LOCKED']);
    assert.deepEqual(second.errors, []);
  });
});

test('a missing tasks folder is reported, not thrown', () => {
  withTree({}, (root) => {
    const r = new TaskScanner(path.join(root, 'nope')).scan();
    assert.deepEqual(r.tasks, []);
    assert.equal(r.errors[0]?.path, '.');
    assert.match(r.errors[0]?.reason ?? '', /^cannot read folder: ENOENT/);
  });
});

test('rescan re-reads only the named files and answers the rest from the cache', () => {
  withTree({ 'a.md': task('A'), 'sub/b.md': task('B'), 'c.md': task('C') }, (root) => {
    const scanner = new TaskScanner(root);
    scanner.scan();
    fs.writeFileSync(path.join(root, 'sub/b.md'), task('B') + '\nmore\n');
    fs.rmSync(path.join(root, 'c.md'));
    fs.writeFileSync(path.join(root, 'd.md'), task('D'));
    const r = scanner.rescan(['sub/b.md', 'c.md', 'd.md']);
    assert.deepEqual(r.tasks.map((t) => t.id), ['A', 'D', 'B']);
    assert.equal(r.read, 2);
    assert.deepEqual(scanner.scan().tasks.map((t) => t.id), r.tasks.map((t) => t.id), 'a full walk agrees');
    // A path the walk would skip (hidden, logs/, not .md) makes rescan walk instead.
    fs.mkdirSync(path.join(root, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'logs/x.md'), task('X'));
    assert.deepEqual(scanner.rescan(['logs/x.md']).tasks.map((t) => t.id), ['A', 'D', 'B']);
  });
});

test('a scan that keeps no text keeps none through what it keeps: an id, title, dates, parent, pr, dependencies and pooled values (milestone, owner, labels, effort, due) cut from a large frontmatter or body do not hold it', () => {
  // With --expose-gc unset, gc comes from a flag set now and a fresh context.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const big = 'x'.repeat(100_000);
  const files: Record<string, string> = {};
  for (let i = 0; i < 100; i++) {
    const front = `id: LONG-IDENTIFIER-${i}\ntitle: A title long enough to be a slice ${i}\ncreated: 2026-01-01 10:00:00 +0000\nupdated: 2026-02-01 10:00:00 +0000\nparent: PARENT-OF-MANY-TASKS-${i}\npr: https://example.invalid/pull/${i}\ndependencies: [SOME-OTHER-TASK-${i}]\nstatus: ready\nmilestone: A milestone named ${i}\nowner: someone-with-a-long-name-${i}\nlabels: [a-long-label-name-${i}]\neffort: an effort of ${i} days\ndue: 2026-03-01 10:00:${String(i % 60).padStart(2, '0')}\ncompleted_by: a-long-finisher-${i}\nnotes: ${big}\n`;
    files[`t${i}.md`] = `---\n${front}---\n${big}\n`;
    // A title from the body's heading, cut from a large body.
    files[`h${i}.md`] = `---\nid: H${i}\nstatus: ready\n---\n# A heading long enough to be a slice ${i}\n${big}\n`;
  }
  withTree(files, (root) => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const scanner = new TaskScanner(root, { bodyKeys: true });
    const r = scanner.scan();
    gc();
    const kept = process.memoryUsage().heapUsed - before;
    assert.equal(r.tasks.length, 200);
    assert.equal(r.tasks.find((t) => t.id === 'H7')?.title, 'A heading long enough to be a slice 7');
    assert.deepEqual(r.tasks.find((t) => t.id === 'LONG-IDENTIFIER-7')?.dependsOn, ['SOME-OTHER-TASK-7']);
    // 200 files of 100-200 KB of text: kept through slices that is 30 MB; kept as their own strings, a few KB a task.
    assert.ok(kept < 5_000_000, `the scan kept ${(kept / 1e6).toFixed(1)} MB for 200 tasks without their text`);
    void scanner;
  });
});
