// Faults the tasks server must survive or report, injected against the real CLI: a killed or
// stopped heartbeat, the tasks folder moved or deleted, its pid file removed, FIFOs in place of
// state files, a taken port.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { SCRIPT, TSX, alive, cli, cliEnv, pidsMentioning, readPid, runtimeFile, start, type Folder, type Running, waitUntil, waitUntilAsync, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('wfault', fn);
/** Stuck after 3 intervals and no slack: at interval 0.2 a silent heartbeat is stuck after 0.6 s. */
const fast = cliEnv({ TASKS_STUCK_SLACK_S: '0' });

interface Reply { status: number; body: string; headers: http.IncomingHttpHeaders }

function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

interface HealthDoc { ok: boolean; app: string; owner: string; state: string; heartbeatPid: number | null; pid: number; heartbeat: { pid: number | null; stale: string | null } }

async function health(base: string): Promise<{ status: number; doc: HealthDoc }> {
  const r = await get(`${base}/api/health`);
  return { status: r.status, doc: JSON.parse(r.body) as HealthDoc };
}

/** Starts `serve` on a free loopback port and waits for its ready line; its pid goes to the test's kill list. */
async function serve(t: Folder, more: string[] = [], env = fast): Promise<{ s: Running; base: string; port: number }> {
  const port = await getPort({ host: '127.0.0.1' });
  const s = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, ...more], { env });
  t.extra.push(s.child.pid as number);
  await s.waitFor(/serving tasks/);
  return { s, base: `http://127.0.0.1:${port}`, port };
}

/** The server-sent events of /api/events, collected as text; close() ends the stream. */
function events(base: string): { text: () => string; close: () => void } {
  let text = '';
  const req = http.get(`${base}/api/events`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => { text += c; });
  });
  req.on('error', () => undefined);
  return { text: () => text, close: () => req.destroy() };
}

const index = (base: string): Promise<string> => get(`${base}/`).then((r) => r.body);
const heartbeatLine = (html: string): string => /<dt>Heartbeat<\/dt><dd>(.*?)<\/dd>/.exec(html)?.[1] ?? `(no heartbeat line in ${html.slice(0, 300)})`;

describe('the heartbeat as the server shows it', () => {
  test('kill -9: /api/health answers 503 stopped, and the open page hears of it without a reload', async () => {
    await withFolder(async (t) => {
      // Ensured apart and served with --no-heartbeat: no watchdog restarts it, so the stopped state
      // stays until the test has seen it (the watchdog's restart is test/faults.test.ts's).
      const ensured = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.2'], { env: fast });
      assert.equal(ensured.code, 0, ensured.stderr);
      const { s, base } = await serve(t, ['--no-heartbeat']);
      const pid = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number;
      // The URL line can come before the heartbeat's first tick: let it tick once, so the page has a snapshot to name it by.
      await waitUntil(() => fs.existsSync(runtimeFile(t.dir, t.owner, 'snapshot.json')), 'the first snapshot');
      // With no stuck slack a heartbeat reads "running" only within 0.6 s of a beat: wait for it, not one look.
      const before = await waitUntilAsync(async () => { const h = await health(base); return h.status === 200 ? h : undefined; }, `health 200 running; output:\n${s.output()}`);
      assert.deepEqual([before.doc.ok, before.doc.state, before.doc.heartbeatPid], [true, 'running', pid]);
      await waitUntilAsync(async () => new RegExp(`^running, pid ${pid}$`).test(heartbeatLine(await index(base))), `the page to say running, pid ${pid}`);
      const ev = events(base);
      try {
        await waitUntil(() => ev.text().includes('event: hello'), 'the hello event');
        const changes = (): number => (ev.text().match(/event: change/g) ?? []).length;
        const seen = changes();
        process.kill(pid, 'SIGKILL');
        const down = await waitUntilAsync(async () => {
          const h = await health(base);
          return h.status === 503 && h.doc.state === 'stopped' ? h : undefined;
        }, `503 stopped after kill -9; server output:\n${s.output()}`);
        assert.equal(down.doc.heartbeatPid, null);
        assert.equal(down.doc.app, 'tasks');
        // The page no longer claims the dead pid runs, and a change event told open pages so.
        const line = await waitUntilAsync(async () => {
          const l = heartbeatLine(await index(base));
          return l.startsWith(`running, pid ${pid}`) ? undefined : l;
        }, 'the page to drop the killed pid');
        // Until its new parent reaps it, the killed process is a zombie: the page says so, and never "running".
        assert.match(line, new RegExp(`^stopped \\((the pid file names pid ${pid}, which (has exited|is a zombie)|last pid ${pid})\\)$`));
        await waitUntil(() => changes() > seen, 'a change event after the kill');
      } finally {
        ev.close();
      }
    });
  });

  test('SIGSTOP: /api/health answers 503 stuck with the pid, and the page says stuck', async () => {
    await withFolder(async (t) => {
      // The heartbeat is ensured apart and served with --no-heartbeat: a serve that ensures it
      // would also watch it, and its watchdog replaces a stuck heartbeat (test/faults.test.ts).
      const ensured = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.2'], { env: fast });
      assert.equal(ensured.code, 0, ensured.stderr);
      const { s, base } = await serve(t, ['--no-heartbeat']);
      const pid = readPid(runtimeFile(t.dir, t.owner, 'heartbeat.pid')) as number;
      await waitUntilAsync(async () => (await health(base)).status === 200, `health 200 running; output:\n${s.output()}`);
      process.kill(pid, 'SIGSTOP');
      try {
        const stuck = await waitUntilAsync(async () => {
          const h = await health(base);
          return h.doc.state === 'stuck' ? h : undefined;
        }, `state stuck after SIGSTOP; output:\n${s.output()}`);
        assert.deepEqual([stuck.status, stuck.doc.ok, stuck.doc.heartbeatPid], [503, false, pid]);
        const line = await waitUntilAsync(async () => {
          const l = heartbeatLine(await index(base));
          return l.startsWith('stuck') ? l : undefined;
        }, 'the page to say stuck');
        assert.match(line, new RegExp(`^stuck, pid ${pid}, last beat <time `));
        assert.match(await index(base), /data-state="stuck"/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // Going again, it is running again, on the page too.
      await waitUntilAsync(async () => (await health(base)).status === 200, 'running again after SIGCONT');
      await waitUntilAsync(async () => heartbeatLine(await index(base)) === `running, pid ${pid}`, 'the page to say running again');
    });
  });

  test('a folder in place of the heartbeat pid file: 503 stopped with the reason, never a 500 or a crash', async () => {
    await withFolder(async (t) => {
      const { s, base } = await serve(t, ['--no-heartbeat']);
      fs.mkdirSync(runtimeFile(t.dir, t.owner, 'heartbeat.pid'));
      const h = await health(base);
      assert.equal(h.status, 503, s.output());
      assert.equal(h.doc.state, 'stopped');
      assert.match(h.doc.heartbeat.stale ?? '', /is a folder, not a file/);
      await waitUntilAsync(async () => /is a folder/.test(heartbeatLine(await index(base))), 'the page to name the folder');
      for (const p of ['/api/tasks', '/api/snapshot', '/']) assert.notEqual((await get(base + p)).status, 500, p);
      assert.ok(alive(s.child.pid as number), s.output());
    });
  });
  test('FIFOs in place of the state files: nothing waits on them; status, ensure, build and the pages answer', async () => {
    await withFolder(async (t) => {
      const pidFile = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
      const snapshot = runtimeFile(t.dir, t.owner, 'snapshot.json');
      const registry = path.join(path.dirname(pidFile), 'registry.json');
      const serverPid = runtimeFile(t.dir, t.owner, 'server.pid');
      fs.mkdirSync(path.dirname(pidFile), { recursive: true });
      // Reading any of these the usual way blocks until a writer opens it: forever.
      for (const f of [pidFile, snapshot, registry, serverPid]) execFileSync('mkfifo', [f]);
      const st = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`]);
      assert.equal(st.code, 3, st.stderr);
      assert.equal(st.stderr, '', 'a FIFO at the server pid file names no server; nothing to complain of');
      fs.rmSync(serverPid);
      assert.match(st.stdout, /not running \(stale pid file: pid file .* is a FIFO, not a file; remove it and try again\)/);
      const en = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`]);
      assert.deepEqual([en.code, en.stderr.trim()], [1, `tasks: pid file ${pidFile} is a FIFO, not a file; remove it and try again`]);
      const out = path.join(t.dir, '..', 'out');
      const built = await cli(['build', `dir=${t.dir}`, `out=${out}`]);
      assert.equal(built.code, 0, built.stderr);
      const { s, base } = await serve(t, ['--no-heartbeat']);
      const h = await health(base);
      assert.equal(h.status, 503, s.output());
      assert.match(h.doc.heartbeat.stale ?? '', /is a FIFO, not a file/);
      await waitUntilAsync(async () => /is a FIFO/.test(heartbeatLine(await index(base))), 'the page to name the FIFO');
      for (const p of ['/api/tasks', '/', '/tasks/FIRST-TASK.html']) assert.equal((await get(base + p)).status, 200, p);
      assert.equal((await get(`${base}/api/snapshot`)).status, 404, 'no snapshot yet: a FIFO is not one');
      // Once the pid file is cleared, a heartbeat keeps the other two aside and writes files of its own.
      fs.rmSync(pidFile);
      const again = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.2']);
      assert.equal(again.code, 0, again.stderr);
      await waitUntil(() => [snapshot, registry].every((f) => fs.lstatSync(f, { throwIfNoEntry: false })?.isFile()), 'a snapshot and a registry file in place of the FIFOs');
      const aside = fs.readdirSync(path.dirname(pidFile)).filter((n) => n.includes('.corrupt-'));
      assert.ok(aside.some((n) => n.startsWith('registry.json.corrupt-')), `the registry FIFO kept aside: ${aside.join(', ')}`);
      assert.ok(alive(s.child.pid as number), s.output());
    });
  });
});

describe('a socket in place of the pid file', () => {
  test('status and ensure say what it is in one line, never a stack', async () => {
    await withFolder(async (t) => {
      const pidFile = runtimeFile(t.dir, t.owner, 'heartbeat.pid');
      fs.mkdirSync(path.dirname(pidFile), { recursive: true });
      // A Unix socket cannot even be opened (ENXIO).
      const sock = net.createServer().listen(pidFile);
      await new Promise((r) => sock.once('listening', r));
      try {
        const st = await cli(['status', `owner=${t.owner}`, `dir=${t.dir}`]);
        assert.equal(st.code, 3, st.stderr);
        assert.match(st.stdout, /stale pid file: pid file .* is a socket, not a file; remove it and try again/);
        const en = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`]);
        assert.deepEqual([en.code, en.stderr.trim()], [1, `tasks: pid file ${pidFile} is a socket, not a file; remove it and try again`]);
      } finally {
        sock.close();
      }
    });
  });
});

describe('the server recovers', () => {
  test('the tasks folder moved away and back: watches re-armed, /api/tasks lists the tasks and new ones', async () => {
    await withFolder(async (t) => {
      const { s, base } = await serve(t, ['--no-heartbeat']);
      const away = `${t.dir}.away`;
      fs.renameSync(t.dir, away);
      await s.waitFor(/tasks folder .* is gone/);
      // Nothing recreated the folder in the way (the build folder lives inside it).
      assert.ok(!fs.existsSync(t.dir), 'the server recreated the tasks folder while it was away');
      fs.renameSync(away, t.dir);
      await s.waitFor(/tasks folder .* is back/);
      fs.writeFileSync(`${t.dir}/AFTER-MOVE.md`, '---\nid: AFTER-MOVE\ntitle: Written after the move\nstatus: todo\n---\n');
      await waitUntilAsync(async () => {
        const ids = (JSON.parse((await get(`${base}/api/tasks`)).body) as { tasks: { id: string }[] }).tasks.map((x) => x.id);
        return ids.includes('AFTER-MOVE') && ids.includes('FIRST-TASK');
      }, `/api/tasks to list the moved-back folder's tasks; output:\n${s.output()}`);
      assert.equal((await get(`${base}/tasks/AFTER-MOVE.html`)).status, 200);
    });
  });

  test('the tasks folder deleted and recreated: the new tasks are served and the pid file is back', async () => {
    await withFolder(async (t) => {
      const { s, base } = await serve(t, ['--no-heartbeat']);
      const pidFile = runtimeFile(t.dir, t.owner, 'server.pid');
      fs.rmSync(t.dir, { recursive: true });
      await s.waitFor(/tasks folder .* is gone/);
      fs.mkdirSync(t.dir);
      fs.writeFileSync(`${t.dir}/REBORN.md`, '---\nid: REBORN\ntitle: In the new folder\nstatus: ready\n---\n');
      await waitUntilAsync(async () => {
        const ids = (JSON.parse((await get(`${base}/api/tasks`)).body) as { tasks: { id: string }[] }).tasks.map((x) => x.id);
        return ids.length === 1 && ids[0] === 'REBORN';
      }, `/api/tasks to list only the new folder's task; output:\n${s.output()}`);
      await waitUntil(() => readPid(pidFile) === s.child.pid, 'the server pid file published again');
      // Watches on the new folder work: an edit shows.
      fs.writeFileSync(`${t.dir}/REBORN.md`, '---\nid: REBORN\ntitle: Edited in the new folder\nstatus: ready\n---\n');
      await waitUntilAsync(async () => (await get(`${base}/tasks/REBORN.html`)).body.includes('Edited in the new folder'), 'the edit to show');
    });
  });

  test('the server pid file deleted or replaced: published again, and stop stops the detached server', async () => {
    await withFolder(async (t) => {
      const port = await getPort({ host: '127.0.0.1' });
      const r = await cli(['serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, '--detach', '--no-heartbeat', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const serverPid = (JSON.parse(r.stdout) as { serverPid: number }).serverPid;
      t.extra.push(serverPid);
      const pidFile = runtimeFile(t.dir, t.owner, 'server.pid');
      const recorded = fs.readFileSync(pidFile, 'utf8');
      fs.rmSync(pidFile);
      await waitUntil(() => readPid(pidFile) === serverPid, 'the deleted pid file published again');
      assert.match(fs.readFileSync(pidFile, 'utf8'), new RegExp(`\\nurl=http://127\\.0\\.0\\.1:${port}/\\n[^]*\\ndetached=1\\n`));
      fs.writeFileSync(pidFile, '1\n');
      await waitUntil(() => readPid(pidFile) === serverPid, 'the garbage pid file published again');
      assert.equal(fs.readFileSync(pidFile, 'utf8').split('\n').filter((l) => !l.startsWith('started=')).join('\n'),
        recorded.split('\n').filter((l) => !l.startsWith('started=')).join('\n'));
      fs.rmSync(pidFile);
      await waitUntil(() => readPid(pidFile) === serverPid, 'published again before stop');
      const stop = await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, new RegExp(`stopped server \\(pid ${serverPid}\\)`));
      await waitUntil(() => !alive(serverPid), 'the detached server to be gone');
    });
  });
});

describe('browser hygiene', () => {
  test('every response carries CSP, nosniff and no-referrer; a Host differing only in case is accepted', async () => {
    await withFolder(async (t) => {
      const { base, port } = await serve(t, ['--no-heartbeat']);
      const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
      for (const [p, headers] of [['/', {}], ['/tasks/FIRST-TASK.html', {}], ['/style.css', {}], ['/api/tasks', {}], ['/api/health', {}], ['/api/nope', {}],
        ['/missing.html', {}], ['/', { host: 'evil.example' }]] as [string, Record<string, string>][]) {
        const r = await get(base + p, headers);
        assert.equal(r.headers['content-security-policy'], csp, p);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
      }
      for (const host of [`LOCALHOST:${port}`, `LocalHost:${port}`, `127.0.0.1:${port}`]) assert.equal((await get(`${base}/api/tasks`, { host })).status, 200, host);
      for (const host of ['evil.example', `evil.example:${port}`, `LOCALHOST.evil.example:${port}`]) assert.equal((await get(`${base}/api/tasks`, { host })).status, 421, host);
    });
  });
});

describe('serve fails before it starts anything', () => {
  test('port= held by a plain listener: exit 1, one line naming host:port, no heartbeat started', async () => {
    await withFolder(async (t) => {
      const port = await getPort({ host: '127.0.0.1' });
      const blocker = net.createServer().listen(port, '127.0.0.1');
      await new Promise((r) => blocker.once('listening', r));
      try {
        for (const more of [[], ['--detach']]) {
          const r = await cli(['serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, 'interval=0.2', ...more]);
          assert.equal(r.code, 1, `${more}: ${r.stdout}${r.stderr}`);
          assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
          assert.match(r.stderr, new RegExp(`^tasks: port 127\\.0\\.0\\.1:${port} is already in use by another process`));
          assert.equal(r.stdout, '', `${more}: nothing announced`);
          assert.ok(!fs.existsSync(runtimeFile(t.dir, t.owner, 'heartbeat.pid')), `${more}: a heartbeat pid file was written`);
          assert.deepEqual(pidsMentioning(t.root), [], `${more}: a process was left running`);
        }
      } finally {
        blocker.close();
      }
    });
  });

  test('a port held by our own server for another owner is named as such; the default port moves past it', async () => {
    await withFolder(async (t) => {
      const other = `${t.owner}-other`;
      const { port } = await serve({ ...t, owner: other }, ['--no-heartbeat']);
      const r = await cli(['serve', `owner=${t.owner}`, `dir=${t.dir}`, `port=${port}`, '--no-heartbeat']);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr, `tasks: port 127.0.0.1:${port} is taken by the tasks server of owner ${other} for ${t.dir}; pass another port= or stop that server (just tasks stop owner=${other} dir=${t.dir})\n`);
      const moved = start(process.execPath, ['--import', TSX, SCRIPT, 'serve', `owner=${t.owner}`, `dir=${t.dir}`, '--no-heartbeat'], { env: cliEnv({ TASK_MANAGER_PORT: String(port) }) });
      t.extra.push(moved.child.pid as number);
      await moved.waitFor(new RegExp(`\\(port ${port} on 127\\.0\\.0\\.1 is taken by the tasks server of owner ${other} for ${t.dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    });
  });
});

describe('/api/tasks is cheap', () => {
  test('ETag and 304 on /api/tasks and /api/snapshot; a changed task changes the tag', async () => {
    await withFolder(async (t) => {
      const { base } = await serve(t, ['interval=0.2']);
      await waitUntil(() => fs.existsSync(runtimeFile(t.dir, t.owner, 'snapshot.json')), 'the first snapshot');
      for (const p of ['/api/tasks', '/api/snapshot']) {
        const first = await get(base + p);
        const etag = first.headers.etag;
        assert.ok(etag, `${p} has an ETag`);
        assert.equal(first.headers['cache-control'], 'no-cache', p);
        const again = await get(base + p, { 'if-none-match': etag });
        // The snapshot changes every tick (0.2 s): a 200 with a new tag is as right as a 304.
        if (again.status === 200) assert.notEqual(again.headers.etag, etag, p);
        else assert.deepEqual([again.status, again.body, again.headers.etag], [304, '', etag], p);
      }
      const before = await get(`${base}/api/tasks`);
      assert.equal((await get(`${base}/api/tasks`, { 'if-none-match': before.headers.etag as string })).status, 304);
      fs.writeFileSync(`${t.dir}/FIRST-TASK.md`, '---\nid: FIRST-TASK\ntitle: Retitled\nstatus: ready\npriority: p1\n---\n');
      const after = await waitUntilAsync(async () => {
        const r = await get(`${base}/api/tasks`, { 'if-none-match': before.headers.etag as string });
        return r.status === 200 ? r : undefined;
      }, 'a 200 with a new body after the edit');
      assert.notEqual(after.headers.etag, before.headers.etag);
      assert.match(after.body, /Retitled/);
    });
  });
});
