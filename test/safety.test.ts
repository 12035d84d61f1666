// The promises behind "never kills the wrong process, never loses a claim": pid identity (start
// time, boot id, self and parent), atomic writes seen by a concurrent reader, and the registry lock
// across processes. Each test here fails when the guarantee it names is broken.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readRegistry } from '../lib/manager/registry.ts';
import { ROOT, SCRIPT, TSX, alive, cli, cliEnv, readPid, run, runtimeFile, type Folder, waitUntil, withTempFolder } from './helpers.ts';

const withFolder = (fn: (t: Folder) => Promise<void>): Promise<void> => withTempFolder('safe', fn);
const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** Signals a stand-in received, from the file it appends them to. */
function received(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/**
 * A stand-in carrying the heartbeat marker of the folder in its command line, exactly what a
 * reused pid of an old heartbeat could look like. It records every signal it gets in a file.
 */
async function markedStandIn(f: Folder): Promise<{ pid: number; signals: string }> {
  const signals = path.join(f.root, `signals-${Math.random().toString(36).slice(2)}`);
  // It exits when its stdin closes, so it cannot outlive this test process however that ends.
  const code = `for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s, () => require('fs').appendFileSync(${JSON.stringify(signals)}, s + '\\n')); process.stdin.on('end', () => process.exit()); process.stdin.resume(); console.log('up')`;
  const child = spawn(process.execPath, ['-e', code, 'heartbeat', `owner=${f.owner}`, `dir=${f.dir}`], { detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
  child.unref();
  f.extra.push(child.pid as number);
  await new Promise((r) => child.stdout?.once('data', r));
  child.stdout?.destroy();
  return { pid: child.pid as number, signals };
}

function writePidFile(f: Folder, lines: string[]): string {
  const file = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('pid identity: a marked process is ours only with the recorded start time and boot id', () => {
  const cases: [string, (pid: number) => string[]][] = [
    ['a wrong starttime=', (pid) => [String(pid), `starttime=${Number(startTime(pid)) + 1}`, `boot=${BOOT}`]],
    ['a wrong boot=', (pid) => [String(pid), `starttime=${startTime(pid)}`, 'boot=00000000-0000-0000-0000-000000000000']],
    ['no identity lines at all', (pid) => [String(pid)]],
  ];
  for (const [name, lines] of cases) {
    test(`${name}: stale, never signalled; ensure starts a real heartbeat; stop leaves the stand-in alone`, async () => {
      await withFolder(async (f) => {
        const standIn = await markedStandIn(f);
        const pidFile = writePidFile(f, lines(standIn.pid));
        const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
        assert.equal(st.code, 3, st.stdout);
        const e = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
        assert.equal(e.code, 0, e.stderr);
        const doc = JSON.parse(e.stdout) as { pid: number; started: boolean; stale: string };
        assert.equal(doc.started, true);
        assert.notEqual(doc.pid, standIn.pid);
        assert.match(doc.stale, new RegExp(`names pid ${standIn.pid}, which is not this heartbeat`));
        assert.equal(readPid(pidFile), doc.pid);
        const s = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
        assert.equal(s.code, 0, s.stderr);
        assert.ok(alive(standIn.pid), 'the stand-in survives');
        assert.equal(received(standIn.signals), '', 'the stand-in was never signalled');
        // With the real heartbeat gone, a pid file naming the stand-in again: stop must not touch it.
        writePidFile(f, lines(standIn.pid));
        const again = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
        assert.match(again.stdout, /no heartbeat running .*stale/);
        assert.ok(alive(standIn.pid));
        assert.equal(received(standIn.signals), '');
      });
    });
  }

  test('a control: the same stand-in with its true start time and boot id IS taken for the heartbeat and stopped', async () => {
    await withFolder(async (f) => {
      const standIn = await markedStandIn(f);
      writePidFile(f, [String(standIn.pid), `starttime=${startTime(standIn.pid)}`, `boot=${BOOT}`]);
      const s = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`], { timeoutMs: 20_000 });
      assert.equal(s.code, 0, s.stderr);
      await waitUntil(() => received(standIn.signals).includes('SIGTERM'), 'SIGTERM to reach the identified stand-in');
    });
  });

  test("a pid file naming the caller's parent (marked, true identity) is never signalled", async () => {
    await withFolder(async (f) => {
      // The parent carries the marker and writes a pid file naming itself with its true identity,
      // then runs `stop` as its child: stop must see its own parent and leave it alone.
      const signals = path.join(f.root, 'parent-signals');
      const pidFile = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
      fs.mkdirSync(path.dirname(pidFile), { recursive: true });
      const code = `
        const fs = require('fs'); const { spawnSync } = require('child_process');
        for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s, () => fs.appendFileSync(${JSON.stringify(signals)}, s + '\\n'));
        const st = fs.readFileSync('/proc/self/stat', 'utf8'); const start = st.slice(st.lastIndexOf(')') + 2).split(' ')[19];
        fs.writeFileSync(${JSON.stringify(pidFile)}, process.pid + '\\nstarttime=' + start + '\\nboot=' + ${JSON.stringify(BOOT)} + '\\n');
        const r = spawnSync(process.execPath, ['--import', ${JSON.stringify(TSX)}, ${JSON.stringify(SCRIPT)}, 'stop', 'owner=${f.owner}', 'dir=${f.dir}'], { encoding: 'utf8', timeout: 20000 });
        process.stdout.write(r.stdout);`;
      const r = await run(process.execPath, ['-e', code, 'heartbeat', `owner=${f.owner}`, `dir=${f.dir}`], { env: cliEnv(), timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /no heartbeat running .*this command or its parent/);
      assert.equal(received(signals), '', 'the parent was never signalled');
    });
  });

  test('a pid file naming the caller itself (marked, true identity) is not taken for a running heartbeat', async () => {
    await withFolder(async (f) => {
      // sh writes its own pid and identity, then execs `heartbeat --once` in place (same pid, same
      // start time, the marker in its command line). Taken for a live daemon, --once would leave the
      // snapshot alone; seen as itself, it writes one.
      const pidFile = runtimeFile(f.dir, f.owner, 'heartbeat.pid');
      fs.mkdirSync(path.dirname(pidFile), { recursive: true });
      const sh = `printf '%s\\nstarttime=%s\\nboot=%s\\n' $$ "$(cut -d' ' -f22 /proc/$$/stat)" "${BOOT}" > "${pidFile}"; exec "${process.execPath}" --import "${TSX}" "${SCRIPT}" heartbeat owner=${f.owner} dir=${f.dir} --once`;
      const r = await run('sh', ['-c', sh], { env: cliEnv(), cwd: ROOT });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.existsSync(runtimeFile(f.dir, f.owner, 'snapshot.json')), 'the --once tick wrote its snapshot: it did not take itself for the daemon');
    });
  });
});

/** Starts a node child running an ES module snippet with the tsx loader (it may import lib/ files). */
function nodeModule(code: string): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', code], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(child: ChildProcess): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout?.on('data', (c) => { out += String(c); });
  child.stderr?.on('data', (c) => { out += String(c); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('atomic writes and the registry lock, across processes', () => {
  test('a reader never sees a torn snapshot or registry while a writer rewrites both in a loop', async () => {
    await withFolder(async (f) => {
      const state = path.join(f.dir, 'logs', 'task_manager');
      const snap = path.join(state, 'snapshot.json');
      const reg = path.join(state, 'registry.json');
      fs.mkdirSync(state, { recursive: true });
      const stopFile = path.join(f.root, 'stop');
      const writer = nodeModule(`
        import fs from 'node:fs';
        import { writeFileAtomic } from ${JSON.stringify(path.join(ROOT, 'lib/base/atomic.ts'))};
        import { updateRegistry } from ${JSON.stringify(path.join(ROOT, 'lib/manager/registry.ts'))};
        let n = 0;
        const big = (k) => JSON.stringify({ n: k, pad: 'x'.repeat(150000 + (k % 7) * 10000) });
        while (!fs.existsSync(${JSON.stringify(stopFile)})) {
          n += 1;
          writeFileAtomic(${JSON.stringify(snap)}, big(n));
          await updateRegistry(${JSON.stringify(reg)}, (r) => { r.history = Array.from({ length: 150 }, (_, i) => ({ id: 'T' + i, slug: 'T' + i, path: 'T.md', claimedBy: 'o', claimedAt: new Date(0).toISOString(), startedAt: null, worktree: '/w', pid: null, pidStart: null, state: 'exited', exitCode: n % 3, endedAt: null, log: null, releasedAt: new Date(0).toISOString(), releaseReason: 'r' + n + 'x'.repeat(n % 50) })); }, () => {}, () => new Date());
        }
        console.log('wrote ' + n);`);
      const done = finished(writer);
      f.extra.push(writer.pid as number);
      let reads = 0;
      try {
        // The 3 s of overlap start once the writer is writing: on a loaded machine its start (tsx) alone can take that long.
        await waitUntil(() => fs.existsSync(reg), 'the writer to write the registry once', 30_000);
        const deadline = Date.now() + 3000;
        while (Date.now() < deadline) {
          for (const file of [snap, reg]) {
            let text: string;
            try { text = fs.readFileSync(file, 'utf8'); } catch { continue; } // not written yet
            assert.doesNotThrow(() => JSON.parse(text), `a torn read of ${path.basename(file)} (${text.length} bytes)`);
            reads += 1;
          }
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        fs.writeFileSync(stopFile, '');
      }
      const w = await done;
      assert.equal(w.code, 0, w.out);
      const writes = Number(/wrote (\d+)/.exec(w.out)?.[1]);
      assert.ok(writes > 20 && reads > 200, `enough overlap to mean something: ${writes} writes, ${reads} reads`);
    });
  });

  test('two processes doing many read-modify-write updates under the lock lose none', async () => {
    await withFolder(async (f) => {
      const reg = path.join(f.dir, 'logs', 'task_manager', 'registry.json');
      const N = 150;
      const worker = (name: string): ChildProcess => nodeModule(`
        import { updateRegistry } from ${JSON.stringify(path.join(ROOT, 'lib/manager/registry.ts'))};
        for (let i = 0; i < ${N}; i++) {
          const id = '${name}-' + i;
          await updateRegistry(${JSON.stringify(reg)}, (r) => { r.claims[id] = { id, slug: id, path: id + '.md', claimedBy: '${name}', claimedAt: new Date().toISOString(), startedAt: null, worktree: '/w', pid: null, pidStart: null, state: 'claimed', exitCode: null, endedAt: null, log: null }; }, () => {}, () => new Date());
        }`);
      const a = worker('A');
      const b = worker('B');
      f.extra.push(a.pid as number, b.pid as number);
      const [ra, rb] = await Promise.all([finished(a), finished(b)]);
      assert.equal(ra.code, 0, ra.out);
      assert.equal(rb.code, 0, rb.out);
      const claims = readRegistry(reg, () => undefined, new Date()).claims;
      assert.equal(Object.keys(claims).length, 2 * N, 'every update of both processes is in the registry');
    });
  });
});
