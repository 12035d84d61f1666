// State files a repository committed as symlinks are never read through (issue 15, A): the snapshot, the
// registry and the pid file each point at a file outside the tasks folder, and nothing of that file shows.
// A snapshot cut short is read as none, and one bad field costs that field only (issue 19: the server
// parses only the snapshot's fields it needs).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { alive, cli, runtimeFile, serveBare, stopServe, waitUntilAsync, withTempFolder } from './helpers.ts';

const SECRET = 'SECRET-OF-THE-OPERATOR-7f3a';

/** Every file under a folder, read as text, for a search of the secret. */
function allText(dir: string): string {
  if (!fs.existsSync(dir)) return '';
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), 'latin1')).join('\n');
}

test('a snapshot and a registry linked to files outside are not read: no page, API answer or status shows their content', async () => {
  await withTempFolder('hread', async (f) => {
    const state = path.join(f.dir, 'logs', 'task_manager');
    fs.mkdirSync(state, { recursive: true });
    const victim = path.join(f.root, 'victim');
    fs.mkdirSync(victim);
    // Foreign JSON that would parse: a snapshot and a registry naming the secret.
    fs.writeFileSync(path.join(victim, 'snap.json'), JSON.stringify({ owner: SECRET, pid: 1, tick: 1, tickAt: new Date().toISOString(), counts: {}, ready: [], claims: [], escalations: [{ id: SECRET, reason: SECRET, since: new Date().toISOString() }], errors: [] }));
    fs.writeFileSync(path.join(victim, 'reg.json'), JSON.stringify({ version: 1, claims: { 'FIRST-TASK': { id: 'FIRST-TASK', slug: 'FIRST-TASK', claimedBy: SECRET, state: 'running', log: path.join(victim, 'out.log') } }, holds: {}, history: [] }));
    fs.writeFileSync(path.join(victim, 'out.log'), `${SECRET}\n`);
    fs.symlinkSync('../../../victim/snap.json', path.join(state, `task-manager-${f.owner}.snapshot.json`));
    fs.symlinkSync('../../../victim/reg.json', path.join(state, 'registry.json'));

    const status = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
    assert.doesNotMatch(status.stdout + status.stderr, new RegExp(SECRET), 'status');

    const { s, base } = await serveBare(f);
    try {
      const page = await waitUntilAsync(async () => {
        const res = await fetch(`${base}/`);
        return res.status === 200 ? res.text() : undefined;
      }, 'the index to be built');
      assert.match(page, /FIRST-TASK/);
      for (const route of ['/', '/api/tasks', '/api/tasks/FIRST-TASK', '/api/tasks/FIRST-TASK/log.txt', '/api/snapshot']) {
        const res = await fetch(`${base}${route}`);
        assert.doesNotMatch(await res.text(), new RegExp(SECRET), route);
      }
      assert.doesNotMatch(allText(state), new RegExp(SECRET), 'the build folder and state files');
    } finally {
      await stopServe(s);
    }
  });
});

test('a pid file linked to a file naming a live process is not read: status says stopped, ensure and stop refuse it and that process stays alive', async () => {
  await withTempFolder('hread', async (f) => {
    const state = path.join(f.dir, 'logs', 'task_manager');
    fs.mkdirSync(state, { recursive: true });
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
    f.extra.push(bystander.pid as number);
    fs.writeFileSync(path.join(f.root, 'pid'), `${bystander.pid}\n`);
    fs.symlinkSync('../../../pid', path.join(state, `task-manager-${f.owner}.heartbeat.pid`));
    const status = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
    assert.equal(status.code, 3, status.stderr);
    const doc = JSON.parse(status.stdout) as { pid: number | null };
    assert.equal(doc.pid, null);
    assert.match(status.stdout, /symbolic link/);
    // Like a folder in the pid file's place: refused with the fix, nothing signalled, nothing started.
    const ensure = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`]);
    assert.equal(ensure.code, 1, ensure.stderr);
    assert.match(ensure.stderr, /^tasks: pid file .*\.heartbeat\.pid is a symbolic link, not a file; remove it and try again\n$/);
    const stop = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
    assert.equal(stop.code, 1, stop.stderr);
    assert.match(stop.stderr, /^tasks: pid file .*\.heartbeat\.pid is a symbolic link, not a file; remove it and try again\n$/);
    assert.ok(alive(bystander.pid as number), 'the process the linked pid file named is alive');
    assert.equal(fs.readFileSync(path.join(f.root, 'pid'), 'utf8'), `${bystander.pid}\n`, 'the link target is untouched');
  });
});

test('a snapshot cut short is read as none: /api/health without its registry, /api/tasks without its escalation; a bad field costs that field only', async () => {
  await withTempFolder('hread', async (f) => {
    const file = runtimeFile(f.dir, f.owner, 'snapshot.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const since = '2026-01-02T03:04:05.000Z';
    const registry = { kind: 'postgres', where: 'postgres://db/tasks', queue: 'q', host: 'h', unreachableSince: since, error: 'connection refused' };
    const whole = JSON.stringify({ owner: f.owner, tick: 1, counts: { total: 1 }, escalations: [{ id: 'FIRST-TASK', reason: 'status {blocked}, "quoted"', since }], ci: { 'FIRST-TASK': { state: 'failing', checkedAt: since, pr: '#1', source: 'gh' } }, registry });
    /** Written as the heartbeat writes it: a new file renamed into place (a new signature, read again). */
    const put = (text: string): void => {
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    };
    const read = async (): Promise<{ registry: unknown; escalation: unknown; ci: unknown }> => {
      const health = await (await fetch(`${base}/api/health`)).json() as { registry?: unknown };
      const list = await (await fetch(`${base}/api/tasks`)).json() as { tasks: { id: string; escalation: unknown; ci: unknown }[] };
      const task = list.tasks.find((t) => t.id === 'FIRST-TASK');
      return { registry: health.registry ?? null, escalation: task?.escalation ?? null, ci: task?.ci };
    };
    put(whole);
    const { s, base } = await serveBare(f);
    try {
      await waitUntilAsync(async () => (await fetch(`${base}/api/tasks`)).status === 200, 'the task model');
      assert.deepEqual(await read(), { registry, escalation: { reason: 'status {blocked}, "quoted"', since }, ci: 'failing' });
      put(whole.slice(0, whole.indexOf('"ci"') + 10));
      assert.deepEqual(await read(), { registry: null, escalation: null, ci: 'unknown' }, 'cut short');
      put(whole.replace('"state":"failing"', '"state":"failing",,'));
      assert.deepEqual(await read(), { registry, escalation: { reason: 'status {blocked}, "quoted"', since }, ci: 'unknown' }, 'a bad ci: the registry and the escalation still read');
      put(whole.replace('"escalations":[', '"escalations":[null,7,{"reason":"no id"},'));
      assert.deepEqual(await read(), { registry, escalation: { reason: 'status {blocked}, "quoted"', since }, ci: 'failing' }, 'escalation entries without an id are skipped');
      put(whole.replace('"escalations":[', '"escalations":[,'));
      assert.deepEqual(await read(), { registry, escalation: null, ci: 'failing' }, 'bad escalations: the CI still reads');
      put(whole);
      assert.deepEqual(await read(), { registry, escalation: { reason: 'status {blocked}, "quoted"', since }, ci: 'failing' }, 'whole again');
    } finally {
      await stopServe(s);
    }
  });
});
