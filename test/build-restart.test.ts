// The build thread dies under a running serve (TASKS_BUILD_EXIT): the task routes, which the thread
// answers, say 503 until its replacement has built, then show the folder as that one read it, with
// the PR links the git remote gave before the death.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type Folder, cliEnv, serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

interface Reply { status: number; body: string; headers: Headers }

async function get(url: string): Promise<Reply> {
  const r = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

const git = (t: Folder, args: string[]): void => {
  const r = spawnSync('git', args, { cwd: t.dir, timeout: 10_000, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
};

const task = (id: string, title: string, extra = ''): string => `---\nid: ${id}\ntitle: ${title}\nstatus: ready\n${extra}---\nBody of ${id}.\n`;

test('the build thread dies: the task routes answer 503 with Retry-After until its replacement has built, then show the folder as it read it, with the PR links kept', () => withTempFolder('brestart', async (t) => {
  git(t, ['init', '-q']);
  git(t, ['remote', 'add', 'origin', 'https://github.com/acme/widgets.git']);
  fs.writeFileSync(path.join(t.dir, 'PR-TASK.md'), task('PR-TASK', 'Has a pull request', 'pr: 12\n'));
  const exit = path.join(t.root, 'build-exit');
  const hold = path.join(t.root, 'build-hold');
  const { s, base } = await serveBare(t, [], cliEnv({ TASKS_BUILD_EXIT: exit, TASKS_BUILD_HOLD: hold }));
  try {
    const link = 'https://github.com/acme/widgets/pull/12';
    const list = async (): Promise<{ tasks: { id: string; title: string; prUrl: string | null }[] } | undefined> => {
      const r = await get(`${base}/api/tasks`);
      return r.status === 200 ? JSON.parse(r.body) as { tasks: { id: string; title: string; prUrl: string | null }[] } : undefined;
    };
    await waitUntilAsync(async () => (await list())?.tasks.find((x) => x.id === 'PR-TASK')?.prUrl === link || undefined, 'the PR link once git named the remote', 30_000);
    const before = (await get(`${base}/api/tasks`)).headers.get('etag');

    // The next builds wait (the replacement's first one too); then the thread ends.
    fs.writeFileSync(hold, '');
    fs.writeFileSync(exit, '');
    await s.waitFor(/dashboard build thread exited \(code 70\)/, 30_000);
    fs.writeFileSync(path.join(t.dir, 'FIRST-TASK.md'), task('FIRST-TASK', 'Renamed while the thread was down'));
    for (const route of ['/api/tasks', '/api/tasks?limit=1', '/api/tasks/FIRST-TASK', '/api/tasks/FIRST-TASK/log']) {
      const r = await get(`${base}${route}`);
      assert.deepEqual([r.status, r.headers.get('retry-after'), (JSON.parse(r.body) as { building?: boolean }).building], [503, '1', true], route);
    }
    assert.equal((JSON.parse((await get(`${base}/api/health`)).body) as { api: string }).api, 'building');
    // The pages on disk are still served meanwhile.
    assert.equal((await get(`${base}/`)).status, 200);

    fs.rmSync(hold);
    await waitUntilAsync(async () => (await list())?.tasks.find((x) => x.id === 'FIRST-TASK')?.title === 'Renamed while the thread was down' || undefined, 'the new thread\'s model in /api/tasks', 60_000);
    const after = await get(`${base}/api/tasks`);
    assert.notEqual(after.headers.get('etag'), before, 'a new body, not the one the dead thread made');
    assert.equal((await list())?.tasks.find((x) => x.id === 'PR-TASK')?.prUrl, link, 'the remote survives the restart');
    assert.equal((JSON.parse((await get(`${base}/api/health`)).body) as { api: string }).api, 'ready');
    // The new thread's pages link the PR too (it starts with the remote the server had).
    await waitUntilAsync(async () => {
      const r = await get(`${base}/tasks/PR-TASK.html`);
      return (r.status === 200 && r.body.includes(link)) || undefined;
    }, 'the PR link on the task page the new thread wrote', 60_000);
  } finally {
    fs.rmSync(hold, { force: true });
    await stopServe(s);
  }
}));
