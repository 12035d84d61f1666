// Installed into another repository: `npm install -D <this checkout>` in a fresh git repository gives
// `npx tasks`, whose dir= defaults to THAT repository's tasks/ (or its Backlog.md backlog/), found
// from any folder inside it; serve serves that repository's tasks.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import getPort from 'get-port';
import { ROOT, type Running, cliEnv, killAll, run, start, stopServe, uniqueOwner, waitUntilAsync } from './helpers.ts';

/** npm without the network (the install is a link to this checkout) and without its nagging. */
/**
 * The host repository's npm, as a user there runs it: none of the npm_* settings that `npm test`
 * hands this process (its .npmrc's node-options=--import=tsx would make every node npx starts in
 * the host look for tsx there).
 */
const npmEnv = (): Record<string, string> => {
  const env = Object.fromEntries(Object.entries(cliEnv()).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  return { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
};

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const TASK = '---\nid: HOST-1\ntitle: A task of the host repository\nstatus: ready\npriority: p1\n---\n## Problem\nSomething.\n';

test('npm install -D <this checkout> in another repository: npx tasks status and serve use that repository\'s tasks/', { timeout: 180_000 }, async () => {
  const host = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-host-')));
  const owner = uniqueOwner('inst');
  let serve: Running | undefined;
  try {
    assert.equal((await run('git', ['init', '-q'], { cwd: host })).code, 0);
    fs.mkdirSync(path.join(host, 'tasks'));
    fs.writeFileSync(path.join(host, 'tasks', 'HOST-1.md'), TASK);
    fs.mkdirSync(path.join(host, 'src', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(host, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }));
    // --ignore-scripts: a linked folder's prepare would rebuild this checkout's dist/ under the other tests.
    const inst = await run('npm', ['install', '-D', ROOT, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: host, env: npmEnv(), timeoutMs: 120_000 });
    assert.equal(inst.code, 0, `npm install failed:\n${inst.stdout}\n${inst.stderr}`);

    // From a folder deep inside the host repository: its git top level's tasks/, not this checkout's.
    const st = await run('npx', ['tasks', 'status', `owner=${owner}`, '--json'], { cwd: path.join(host, 'src', 'deep'), env: npmEnv(), timeoutMs: 60_000 });
    assert.equal(st.code, 3, `status: ${st.stdout}\n${st.stderr}`);
    const status = JSON.parse(st.stdout) as { owner: string; dir: string };
    assert.equal(status.owner, owner);
    assert.equal(status.dir, path.join(host, 'tasks'));

    const port = await getPort({ host: '127.0.0.1' });
    serve = start('npx', ['tasks', 'serve', `owner=${owner}`, `port=${port}`, '--no-heartbeat'], { cwd: host, env: npmEnv() });
    const ids = await waitUntilAsync(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/tasks`).catch(() => undefined);
      if (r?.status !== 200) return undefined;
      return ((await r.json()) as { tasks: { id: string }[] }).tasks.map((t) => t.id);
    }, 'the host repository\'s tasks at /api/tasks', 60_000);
    assert.deepEqual(ids, ['HOST-1']);
    await stopServe(serve);
    serve = undefined;

    // No tasks/ but Backlog.md's backlog/ (with its config.yml): that folder.
    fs.rmSync(path.join(host, 'tasks'), { recursive: true });
    fs.mkdirSync(path.join(host, 'backlog', 'tasks'), { recursive: true });
    fs.writeFileSync(path.join(host, 'backlog', 'config.yml'), 'project_name: "Host"\nstatuses: ["To Do", "In Progress", "Done"]\n');
    const bl = await run('npx', ['tasks', 'status', `owner=${owner}`, '--json'], { cwd: host, env: npmEnv(), timeoutMs: 60_000 });
    assert.equal(bl.code, 3, `status: ${bl.stdout}\n${bl.stderr}`);
    assert.equal((JSON.parse(bl.stdout) as { dir: string }).dir, path.join(host, 'backlog'));

    // Neither: the usage error names the host's tasks/ to create.
    fs.rmSync(path.join(host, 'backlog', 'config.yml'));
    const none = await run('npx', ['tasks', 'status', `owner=${owner}`], { cwd: host, env: npmEnv(), timeoutMs: 60_000 });
    assert.equal(none.code, 2, `status: ${none.stdout}\n${none.stderr}`);
    assert.match(none.stderr, new RegExp(`\`${path.join(host, 'tasks').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\``));
  } finally {
    // npx, its shell and the CLI share the process group start() made; killed whatever the CLI does.
    const pid = serve?.child.pid;
    if (pid !== undefined) killGroup(pid);
    await killAll(host, pid === undefined ? [] : [pid]);
    fs.rmSync(host, { recursive: true, force: true });
  }
});
