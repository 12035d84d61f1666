// Hostile names and ids against the real CLI: an ambiguous id= is refused, a file name that is not UTF-8 is an error,
// a task in a folder named docs/ is a task in our format, and an id fold never crosses prefixes (issue 15: F, H, K, L).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backlogTaskPrefix } from '../lib/tasks/mapping.ts';
import { dependencyProblems, taskIndex } from '../lib/tasks/model.ts';
import { type Task, parseEntry, parseTaskFile } from '../lib/tasks/taskfile.ts';
import { type Folder, alive, cli, killAll, pidsWithEnv, sleeperIn, listTree, serveBare, stopServe, uniqueOwner, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A temp folder without the default task: each test writes its own. */
const withFolder = (fn: (f: Folder) => Promise<void>): Promise<void> => withTempFolder('hn', (f) => {
  fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
  return fn(f);
});

function write(f: Folder, rel: string, front: string, body = 'body\n'): void {
  fs.mkdirSync(path.dirname(path.join(f.dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(f.dir, rel), `---\n${front}\n---\n${body}`);
}

interface Snap {
  counts: Record<string, number>;
  errors: { path: string; reason: string }[];
  escalations: { id: string; reason: string }[];
  dispatchable: { id: string }[];
}

const snapshot = (dir: string, owner: string): Snap =>
  JSON.parse(fs.readFileSync(path.join(dir, 'logs', 'task_manager', `task-manager-${owner}.snapshot.json`), 'utf8')) as Snap;

const registryFile = (f: Folder): string => path.join(f.dir, 'logs', 'task_manager', 'registry.json');
interface Registry { claims: Record<string, { id: string; pid: number | null; runId?: string; state: string }>; holds: Record<string, unknown> }
const registry = (f: Folder): Registry | undefined => {
  try {
    return JSON.parse(fs.readFileSync(registryFile(f), 'utf8')) as Registry;
  } catch {
    return undefined;
  }
};

/** Pids of live processes carrying this run marker: read from /proc here, so cleanup never depends on the code under test. */
function markedPids(runId: string): number[] {
  return pidsWithEnv((v) => v === `TASK_RUN_ID=${runId}`).filter(alive);
}

/** A task parsed as the scanner would in a folder of ours (taskPrefix null) or a Backlog.md folder with that task prefix. */
function parsed(file: string, front: string, taskPrefix: string | null): Task {
  const r = parseTaskFile(Buffer.from(`---\n${front}\n---\n`), file, { taskPrefix });
  assert.ok(r.ok, JSON.stringify(r));
  return r.task;
}

// [reference, the id it names or undefined] per folder: a fold drops case, separators and leading zeros, never a
// prefix; only Backlog.md's own family (no prefix, task-, its task_prefix) folds together, never with draft-.
const FOLDS: { folder: string; prefix: string | null; tasks: [file: string, id: string][]; refs: [ref: string, id: string | undefined][] }[] = [
  { folder: 'ours', prefix: null, tasks: [['FOO-7.md', 'FOO-7'], ['one.md', '001'], ['BAR-7.md', 'BAR-7']],
    refs: [['FOO-7', 'FOO-7'], ['foo_07', 'FOO-7'], ['foo7', 'FOO-7'], ['7', undefined], ['task-7', undefined], ['1', '001'], ['task-1', undefined], ['bar-7', 'BAR-7']] },
  { folder: 'Backlog.md, default prefix', prefix: backlogTaskPrefix(null), tasks: [['tasks/task-9.md', 'TASK-9'], ['drafts/draft-8.md', 'DRAFT-8']],
    refs: [['task-8', undefined], ['TASK-8', undefined], ['8', undefined], ['draft-8', 'DRAFT-8'], ['draft_08', 'DRAFT-8'], ['9', 'TASK-9'], ['task-09', 'TASK-9']] },
  { folder: 'Backlog.md, task_prefix BACK-', prefix: backlogTaskPrefix('BACK-'), tasks: [['tasks/back-3.md', 'BACK-3'], ['drafts/draft-3.md', 'draft-3'], ['tasks/x.md', 'X-4']],
    refs: [['3', 'BACK-3'], ['task-3', 'BACK-3'], ['back-03', 'BACK-3'], ['draft-3', 'draft-3'], ['4', undefined], ['task-4', undefined], ['x-4', 'X-4']] },
];

for (const row of FOLDS) {
  test(`id folds in ${row.folder} never cross prefixes`, () => {
    const index = taskIndex(row.tasks.map(([file, id]) => parsed(file, `id: "${id}"`, row.prefix)));
    assert.deepEqual(row.refs.map(([ref]) => [ref, index.resolve(ref)?.id]), row.refs);
  });
}

test('a dependency on task-8 with only DRAFT-8 present is missing, not a cycle through the draft', () => {
  const tasks = [parsed('tasks/task-9.md', 'id: TASK-9\nstatus: To Do\ndependencies: [task-8]', 'task'), parsed('drafts/draft-8.md', 'id: DRAFT-8\ndependencies: [task-8]', 'task')];
  assert.deepEqual([...dependencyProblems(tasks)], [['TASK-9', 'missing dependency task-8'], ['DRAFT-8', 'missing dependency task-8']]);
});

test('matches lists every task a reference names at its first step: abc and ABC for Abc, abc alone for abc', () => {
  const index = taskIndex([parsed('ABC.md', 'id: ABC', null), parsed('abc.md', 'id: abc', null), parsed('archive/x.md', 'id: aBc', null)]);
  assert.deepEqual(index.matches('Abc').map((t) => t.id), ['ABC', 'abc'], 'the archived aBc loses to the active ones');
  assert.deepEqual(index.matches('abc').map((t) => t.id), ['abc']);
  assert.deepEqual(index.matches('aBc').map((t) => t.id), ['aBc'], 'an exact id wins, archived or not');
});

// [path, content, folder, what it is]: in our format a folder named docs/, decisions/ or milestones/ at any depth holds
// docs unless a file there has an id and a task status; in Backlog.md only its own top-level folders hold docs.
const KINDS: [file: string, front: string | null, folder: 'ours' | 'backlog', kind: string][] = [
  ['docs/sub/t.md', 'id: T\nstatus: ready', 'ours', 'task'],
  ['area/milestones/m.md', 'id: M\nstatus: In Progress', 'ours', 'task'],
  ['docs/qa.md', 'id: Q\nstatus: QA', 'ours', 'task'],
  ['docs/t.md', 'id: T', 'ours', 'doc'],
  ['docs/t.md', 'status: ready', 'ours', 'doc'],
  ['docs/t.md', 'id: T\nstatus: ready\nkind: doc', 'ours', 'doc'],
  ['decisions/adr-1.md', 'id: adr-1\nstatus: accepted', 'ours', 'decision'],
  ['docs/guide.md', null, 'ours', 'doc'],
  ['docs/t.md', 'id: T\nstatus: ready', 'backlog', 'doc'],
  ['archive/milestones/m.md', 'id: M\nstatus: ready', 'backlog', 'milestone'],
  ['tasks/docs/t.md', 'id: T\nstatus: ready', 'backlog', 'task'],
  ['area/decisions/x.md', 'id: X', 'backlog', 'task'],
];

for (const [file, front, folder, kind] of KINDS) {
  test(`file kind in ${folder}: ${file} ${JSON.stringify(front)} → ${kind}`, () => {
    const content = Buffer.from(front === null ? '# Guide\n' : `---\n${front}\n---\n`);
    const e = parseEntry(content, file, { statuses: ['To Do', 'QA', 'Done'], taskPrefix: folder === 'backlog' ? 'task' : null });
    assert.equal(e.kind === 'doc' ? e.doc.kind : e.kind === 'task' && e.result.ok ? 'task' : e.kind, kind, JSON.stringify(e));
  });
}

describe('an ambiguous id= is refused (F)', () => {
  test('abc.md and ABC.md: id=Abc exits 2 naming both and writes nothing; the exact id still names its task', async () => {
    await withFolder(async (f) => {
      write(f, 'abc.md', 'id: abc\nstatus: ready');
      write(f, 'ABC.md', 'id: ABC\nstatus: ready');
      const before = listTree(f.root);
      for (const action of ['release', 'retry', 'logs']) {
        for (const word of ['Abc', 'aBC']) {
          const r = await cli([action, `owner=${f.owner}`, `dir=${f.dir}`, `id=${word}`]);
          assert.equal(r.code, 2, `${action} id=${word}: ${r.stderr}`);
          assert.equal(r.stderr, `tasks: \`${word}\` names 2 tasks: ABC (ABC.md), abc (abc.md); give the exact id\n`, action);
          assert.equal(r.stdout, '');
        }
      }
      assert.deepEqual(listTree(f.root), before, 'no file was created');
      for (const id of ['abc', 'ABC']) {
        const r = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, `id=${id}`, '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal((JSON.parse(r.stdout) as { id: string }).id, id);
      }
      assert.deepEqual(Object.keys(registry(f)?.holds ?? {}).sort(), ['ABC', 'abc']);
    });
  });

  test('/api/tasks/Abc answers 409 naming both; /api/tasks/abc and /api/tasks/ABC each answer their own task', async () => {
    await withFolder(async (f) => {
      write(f, 'abc.md', 'id: abc\nstatus: ready');
      write(f, 'ABC.md', 'id: ABC\nstatus: ready');
      const { s, base } = await serveBare(f);
      try {
        const get = async (id: string): Promise<{ status: number; body: Record<string, unknown> }> => {
          // 503 while the first build runs: asked again until the model is in.
          const r = await waitUntilAsync(async () => {
            const res = await fetch(`${base}/api/tasks/${id}`);
            return res.status === 503 ? undefined : res;
          }, `/api/tasks/${id} past the first build`);
          return { status: r.status, body: await r.json() as Record<string, unknown> };
        };
        const many = await get('Abc');
        assert.equal(many.status, 409, JSON.stringify(many.body));
        assert.deepEqual(many.body['candidates'], ['ABC', 'abc']);
        assert.match(String(many.body['error']), /names 2 tasks \(ABC, abc\); ask for the exact id/);
        for (const id of ['abc', 'ABC']) {
          const one = await get(id);
          assert.equal(one.status, 200);
          assert.equal(one.body['id'], id);
        }
      } finally {
        await stopServe(s);
      }
    });
  });

  test('release --force with an ambiguous id stops nothing: the live run and its claim stay', async () => {
    await withFolder(async (f) => {
      write(f, 'abc.md', 'id: abc\nstatus: todo');
      write(f, 'ABC.md', 'id: ABC\nstatus: ready');
      let runId: string | undefined;
      try {
        const ensure = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=0.2', `dispatch=exec ${sleeperIn(f.root)} 300`, 'worktrees=off', '--json']);
        assert.equal(ensure.code, 0, ensure.stderr);
        f.extra.push((JSON.parse(ensure.stdout) as { pid: number }).pid);
        const claim = await waitUntil(() => { const c = registry(f)?.claims.ABC; return c?.state === 'running' && c.pid !== null && c.runId ? c : undefined; }, 'ABC to run');
        runId = claim.runId;
        f.extra.push(claim.pid as number);
        const before = markedPids(claim.runId as string);
        assert.ok(before.length > 0, 'the run has processes');
        const r = await cli(['release', `owner=${f.owner}`, `dir=${f.dir}`, 'id=Abc', '--force'], { timeoutMs: 30_000 });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^tasks: `Abc` names 2 tasks: ABC \(ABC\.md\), abc \(abc\.md\); give the exact id\n$/);
        for (const pid of before) assert.ok(alive(pid), `pid ${pid} of ABC's run is still alive`);
        const after = registry(f);
        assert.equal(after?.claims.ABC?.runId, claim.runId, 'ABC is still claimed by the same run');
        assert.deepEqual(after?.holds ?? {}, {}, 'nothing is held');
      } finally {
        if (runId !== undefined) f.extra.push(...markedPids(runId));
      }
    });
  });
});

describe('a file name that is not UTF-8 is a parse error (H)', () => {
  const badName = (dir: string, ...parts: Buffer[]): Buffer => Buffer.concat([Buffer.from(dir + '/'), ...parts]);

  test('shown with its bytes escaped in the snapshot, status --json and /api/tasks; the tick goes on', async () => {
    await withFolder(async (f) => {
      write(f, 'ok.md', 'id: OK\nstatus: ready');
      fs.writeFileSync(badName(f.dir, Buffer.from([0xff, 0xfe]), Buffer.from('.md')), '---\nid: BAD\nstatus: ready\n---\n');
      fs.mkdirSync(badName(f.dir, Buffer.from('area-'), Buffer.from([0xe9])));
      fs.writeFileSync(badName(f.dir, Buffer.from('area-'), Buffer.from([0xe9]), Buffer.from('/inside.md')), '---\nid: INSIDE\nstatus: ready\n---\n');
      // A valid non-ASCII name stays a task.
      write(f, 'café.md', 'id: CAFE\nstatus: todo');
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(once.code, 0, once.stderr);
      assert.match(once.stdout, /2 tasks .*2 parse errors/);
      const expected = [
        { path: '\\xff\\xfe.md', reason: 'file name is not valid UTF-8; rename it' },
        { path: 'area-\\xe9/', reason: 'folder name is not valid UTF-8, so its files are not read; rename it' },
      ].sort((a, b) => (a.path < b.path ? -1 : 1));
      assert.deepEqual(snapshot(f.dir, f.owner).errors, expected);
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
      const doc = JSON.parse(st.stdout) as { counts: Record<string, number>; escalations: { id: string; reason: string }[] };
      assert.deepEqual(doc.counts, { total: 2, todo: 1, ready: 1 });
      assert.deepEqual(doc.escalations.map((e) => [e.id, e.reason]), expected.map((e) => [e.path, `parse error: ${e.reason}`]));

      const { s, base } = await serveBare(f);
      try {
        // Until the first build is complete the route may answer 503: wait for the complete model.
        const tasksApi = async (): Promise<{ tasks: { id: string }[]; errors: { path: string; reason: string }[] } | undefined> => {
          const res = await fetch(`${base}/api/tasks`);
          return res.status === 200 ? await res.json() as { tasks: { id: string }[]; errors: { path: string; reason: string }[] } : undefined;
        };
        const api = await waitUntilAsync(async () => { const body = await tasksApi(); return body?.tasks.length === 2 ? body : undefined; }, '/api/tasks to list the tasks');
        assert.deepEqual(api.errors, expected);
        // A bad name written while the server watches is picked up too (the watch reports it mangled).
        fs.writeFileSync(badName(f.dir, Buffer.from('late-'), Buffer.from([0xc3, 0x28]), Buffer.from('.md')), '---\nid: LATE\n---\n');
        await waitUntilAsync(async () => (await tasksApi())?.errors.some((e) => e.path === 'late-\\xc3(.md'), 'the late bad name in /api/tasks errors');
      } finally {
        await stopServe(s);
      }
    });
  });
});

describe('docs/, decisions/ and milestones/ in our format (K)', () => {
  test('a task with id and a task status in docs/sub/ is counted and dispatched; a plain doc stays a doc', async () => {
    await withFolder(async (f) => {
      write(f, 'docs/sub/doc-task.md', 'id: DOCTASK\ntitle: A task filed under docs\nstatus: ready');
      fs.writeFileSync(path.join(f.dir, 'docs', 'guide.md'), '# A guide\nNo frontmatter: a doc.\n');
      write(f, 'area/decisions/adr-1.md', 'id: adr-1\nstatus: accepted');
      write(f, 'milestones/m1.md', 'id: m1\ntitle: First');
      write(f, 'docs/kind.md', 'id: KIND\nstatus: ready\nkind: doc');
      const out = path.join(f.root, 'dispatched');
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, `dispatch=printf %s "$TASK_ID" >> ${out}`, 'worktrees=off', 'max=5']);
      assert.equal(once.code, 0, once.stderr);
      const snap = snapshot(f.dir, f.owner);
      assert.deepEqual(snap.counts, { total: 1, ready: 1 });
      assert.deepEqual(snap.errors, []);
      assert.equal(fs.readFileSync(out, 'utf8'), 'DOCTASK');
    });
  });
});

describe('an id fold never crosses prefixes (L)', () => {
  test('Backlog.md: task-8 with only DRAFT-8 present is a missing dependency, not a cycle; id=8 names no draft', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-hn-'));
    const owner = uniqueOwner('hn');
    try {
      fs.cpSync(path.join(FIXTURES, 'hostile-backlog'), root, { recursive: true });
      const dir = path.join(root, 'backlog');
      const once = await cli(['heartbeat', '--once', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(once.code, 0, once.stderr);
      const snap = snapshot(dir, owner);
      assert.deepEqual(snap.errors, []);
      assert.deepEqual(snap.counts, { total: 3, draft: 1, todo: 2 }, 'the doc in docs/ is not counted');
      assert.deepEqual(snap.escalations.map((e) => [e.id, e.reason]).sort(), [
        ['DRAFT-8', 'missing dependency task-8'],
        ['TASK-9', 'missing dependency task-8'],
      ]);
      const eight = await cli(['logs', `owner=${owner}`, `dir=${dir}`, 'id=8']);
      assert.equal(eight.code, 2, eight.stderr);
      assert.match(eight.stderr, /unknown task `8`/);
      const draft = await cli(['logs', `owner=${owner}`, `dir=${dir}`, 'id=draft-08']);
      assert.equal(draft.code, 0, draft.stderr);
      assert.match(draft.stderr, /no run log yet for DRAFT-8/);
      const nine = await cli(['logs', `owner=${owner}`, `dir=${dir}`, 'id=9']);
      assert.match(nine.stderr, /no run log yet for TASK-9/);
    } finally {
      await killAll(root);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
