// A cloned repository attacks through the runtime folder: committed symlinks under logs/ that climb out to the
// operator's files, ids and titles full of control characters, and a heartbeat that crashes at start in a loop.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import getPort from 'get-port';
import { cli, cliEnv, killAll, readPid, runtimeFile, tempTasks, uniqueOwner, waitUntil, type Run, fingerprint } from './helpers.ts';

interface Hostile { root: string; dir: string; owner: string; state: string; victim: string }

/** A tasks folder as a hostile clone leaves it, beside a victim folder standing in for the operator's home. */
async function withHostile(fn: (h: Hostile) => Promise<void>): Promise<void> {
  const t = tempTasks();
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  const owner = uniqueOwner('hostile');
  const victim = path.join(t.root, 'victim');
  fs.mkdirSync(victim);
  for (const name of ['bashrc', 'hb.log', 'hb1.log', 'srv.log', 'run1.log', 'page.html', 'registry.json', 'snapshot.json', 'pid']) {
    fs.writeFileSync(path.join(victim, name), `# the operator's ${name}\nexport PATH=/usr/bin\n`);
  }
  for (const folder of ['logs', 'tm', 'runs', 'site']) {
    fs.mkdirSync(path.join(victim, folder));
    // A compressed sibling without its file and a temp-file name: what a build folder's clean-up removes.
    fs.writeFileSync(path.join(victim, folder, 'keep.txt'), 'keep\n');
    fs.writeFileSync(path.join(victim, folder, 'old.html.gz'), 'not ours\n');
    fs.writeFileSync(path.join(victim, folder, 'x.1.2.tmp'), 'not ours\n');
  }
  try {
    await fn({ root: t.root, dir: t.dir, owner, state: path.join(t.dir, 'logs', 'task_manager'), victim });
  } finally {
    await killAll(t.root);
    t.remove();
  }
}

/** Commits a relative symlink at `at` (inside the tasks folder) that climbs out to `target`. */
function plant(at: string, target: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(at), target), at);
}

const task = (id: string, status = 'ready'): string => `---\nid: ${id}\ntitle: Task ${id}\nstatus: ${status}\n---\n## Plan\n- [ ] do it\n`;

function readJson(file: string): Record<string, any> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
  } catch {
    return undefined;
  }
}

const fast = cliEnv({ TASKS_STUCK_SLACK_S: '5' });

function args(h: Hostile, ...more: string[]): string[] {
  return [`owner=${h.owner}`, `dir=${h.dir}`, ...more];
}

describe('symlinks a repository commits under logs/', () => {
  test('file links (run log, heartbeat log and its .1, server log, registry, snapshot, a page) are replaced, never written through (a linked pid file is refused: hostile-reads)', async () => {
    await withHostile(async (h) => {
      fs.writeFileSync(path.join(h.dir, 'A.md'), task('A'));
      const site = path.join(h.state, `site-${h.owner}`);
      plant(path.join(h.state, 'runs', 'A.log'), path.join(h.victim, 'bashrc'));
      plant(path.join(h.state, 'runs', 'A.log.1'), path.join(h.victim, 'run1.log'));
      plant(runtimeFile(h.dir, h.owner, 'heartbeat.log'), path.join(h.victim, 'hb.log'));
      plant(runtimeFile(h.dir, h.owner, 'heartbeat.log.1'), path.join(h.victim, 'hb1.log'));
      plant(runtimeFile(h.dir, h.owner, 'server.log'), path.join(h.victim, 'srv.log'));
      plant(runtimeFile(h.dir, h.owner, 'snapshot.json'), path.join(h.victim, 'snapshot.json'));
      plant(path.join(h.state, 'registry.json'), path.join(h.victim, 'registry.json'));
      plant(path.join(site, 'index.html'), path.join(h.victim, 'page.html'));
      fs.writeFileSync(path.join(h.state, '.gitignore'), '!*\n');
      const before = fingerprint(h.victim);

      const ensured = await cli(['ensure', ...args(h, 'interval=0.2', 'worktrees=off', 'dispatch=echo output of A')], { env: fast });
      assert.equal(ensured.code, 0, ensured.stderr);
      const registry = path.join(h.state, 'registry.json');
      await waitUntil(() => readJson(registry)?.claims?.A?.state === 'exited', 'the run of A to be recorded');
      const once = await cli(['heartbeat', ...args(h, 'worktrees=off', '--once')], { env: fast });
      assert.equal(once.code, 0, once.stderr);
      const port = await getPort({ host: '127.0.0.1' });
      const served = await cli(['serve', ...args(h, `port=${port}`, 'interval=0.2', 'worktrees=off', 'dispatch=echo output of A', '--detach')], { env: fast });
      assert.equal(served.code, 0, served.stderr);
      await waitUntil(() => fs.lstatSync(path.join(site, 'index.html'), { throwIfNoEntry: false })?.isFile(), 'the dashboard to be built');
      const built = await cli(['build', ...args(h, `out=${path.join(h.root, 'out')}`)], { env: fast });
      assert.equal(built.code, 0, built.stderr);
      const stopped = await cli(['stop', ...args(h)], { env: fast });
      assert.equal(stopped.code, 0, stopped.stderr);

      assert.deepEqual(fingerprint(h.victim), before, 'the victim folder is byte-identical');
      const runLog = path.join(h.state, 'runs', 'A.log');
      assert.ok(fs.lstatSync(runLog).isFile(), 'the run log is a file of its own now');
      assert.match(fs.readFileSync(runLog, 'utf8'), /output of A/);
      for (const suffix of ['heartbeat.log', 'server.log', 'snapshot.json']) {
        assert.ok(fs.lstatSync(runtimeFile(h.dir, h.owner, suffix)).isFile(), `${suffix} is a file of its own now`);
      }
      assert.match(fs.readFileSync(runtimeFile(h.dir, h.owner, 'heartbeat.log'), 'utf8'), /heartbeat started/);
    });
  });

  // Each runtime folder, replaced by a link that climbs out: every command that writes runtime state refuses, naming it.
  const folders: { name: string; at: (h: Hostile) => string; target: string }[] = [
    { name: 'logs/', at: (h) => path.join(h.dir, 'logs'), target: 'logs' },
    { name: 'logs/task_manager/', at: (h) => h.state, target: 'tm' },
    { name: 'runs/', at: (h) => path.join(h.state, 'runs'), target: 'runs' },
    { name: 'site-<owner>/', at: (h) => path.join(h.state, `site-${h.owner}`), target: 'site' },
  ];
  for (const f of folders) {
    test(`a symlinked ${f.name} is refused by ensure, heartbeat --once and serve with one line naming it; stop still stops; build writes only out=`, async () => {
      await withHostile(async (h) => {
        fs.writeFileSync(path.join(h.dir, 'A.md'), task('A'));
        const link = f.at(h);
        if (f.name !== 'logs/') fs.mkdirSync(path.dirname(link), { recursive: true });
        plant(link, path.join(h.victim, f.target));
        const before = fingerprint(h.victim);
        const refused = `tasks: ${link} is a symbolic link; remove it (rm ${link}) and run again\n`;
        const port = await getPort({ host: '127.0.0.1' });
        const runs: [string, Run][] = [
          ['ensure', await cli(['ensure', ...args(h, 'interval=0.2', 'worktrees=off', 'dispatch=echo hi')], { env: fast })],
          ['heartbeat --once', await cli(['heartbeat', ...args(h, 'worktrees=off', 'dispatch=echo hi', '--once')], { env: fast })],
          ['serve', await cli(['serve', ...args(h, `port=${port}`, 'interval=0.2')], { env: fast, timeoutMs: 15_000 }).catch((err: Error) => ({ code: null, signal: null, stdout: '', stderr: err.message }))],
          ['serve --detach', await cli(['serve', ...args(h, `port=${port}`, 'interval=0.2', '--detach')], { env: fast })],
        ];
        // stop writes nothing but its mark, so it still stops: it only says when the mark's folder is the link.
        const stopped = await cli(['stop', ...args(h)], { env: fast });
        const built = await cli(['build', ...args(h, `out=${path.join(h.root, 'out')}`)], { env: fast });
        assert.deepEqual(fingerprint(h.victim), before, 'the victim folder is byte-identical');
        for (const [what, r] of runs) {
          assert.equal(r.stderr, refused, `${what}: ${r.stdout}${r.stderr}`);
          assert.equal(r.code, 1, what);
        }
        // Nothing of this owner ever ran here (every start was refused), so stop has nothing to mark or say.
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.equal(stopped.stderr, '', stopped.stderr);
        assert.equal(built.code, 0, built.stderr);
        assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is left for the operator to remove');
      });
    });
  }
});

describe('control characters in ids and titles', () => {
  test('a newline, ESC/CSI, DEL and C1 (U+009B) in an id and a title reach no log raw: they are escaped visibly', async () => {
    await withHostile(async (h) => {
      // YAML double quotes: \n newline, \e ESC, \x9b the C1 CSI, \x7f DEL, \r, \t.
      const id = String.raw`EVIL\nrm -rf ~\e[31m\x9b2J\x7f\r\tX`;
      fs.writeFileSync(path.join(h.dir, 'EVIL.md'), `---\nid: "${id}"\ntitle: "T\\n\\e]0;pwned\\x07\\x9b1m"\nstatus: ready\n---\nbody\n`);
      const ensured = await cli(['ensure', ...args(h, 'interval=0.2', 'worktrees=off', 'dispatch=echo plain output')], { env: fast });
      assert.equal(ensured.code, 0, ensured.stderr);
      const registry = path.join(h.state, 'registry.json');
      const evil = 'EVIL\nrm -rf ~\u001b[31m\u009b2J\u007f\r\tX';
      await waitUntil(() => readJson(registry)?.claims?.[evil]?.state === 'exited', 'the run of the evil task to be recorded');
      // Its id edited: the claim follows the file, and the log line names the old id and the new one.
      fs.writeFileSync(path.join(h.dir, 'EVIL.md'), fs.readFileSync(path.join(h.dir, 'EVIL.md'), 'utf8').replace('id: "EVIL', 'id: "EVIL2'));
      const hbLog = runtimeFile(h.dir, h.owner, 'heartbeat.log');
      await waitUntil(() => /follows its file/.test(fs.readFileSync(hbLog, 'utf8')), 'the claim to follow the renamed file');
      const port = await getPort({ host: '127.0.0.1' });
      const served = await cli(['serve', ...args(h, `port=${port}`, 'interval=0.2', 'worktrees=off', 'dispatch=echo plain output', '--detach')], { env: fast });
      assert.equal(served.code, 0, served.stderr);
      const stopped = await cli(['stop', ...args(h)], { env: fast });
      assert.equal(stopped.code, 0, stopped.stderr);

      const shown = String.raw`EVIL\nrm -rf ~\u001b[31m\u009b2J\u007f\r\tX`;
      const logs = {
        heartbeat: fs.readFileSync(hbLog, 'utf8'),
        server: fs.readFileSync(runtimeFile(h.dir, h.owner, 'server.log'), 'utf8'),
        run: fs.readFileSync(path.join(h.state, 'runs', 'EVIL.log'), 'utf8'),
      };
      for (const [name, text] of Object.entries(logs)) {
        assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, `the ${name} log holds no raw control character:\n${JSON.stringify(text)}`);
        assert.doesNotMatch(text, /^rm -rf/m, `no line of the ${name} log starts with the id's second line`);
      }
      assert.ok(logs.heartbeat.includes(`run of ${shown} exited with code 0`), logs.heartbeat);
      assert.ok(logs.heartbeat.includes(`claim on ${shown} follows its file to EVIL.md (now ${shown.replace('EVIL', 'EVIL2')})`), logs.heartbeat);
      assert.ok(logs.run.includes(`dispatches ${shown} (run `), logs.run);
      assert.match(logs.run, /^plain output$/m, 'the run\'s own output is kept as it printed it');
      const printed = await cli(['logs', ...args(h)], { env: fast });
      assert.doesNotMatch(printed.stdout + printed.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'nor does the terminal');
    });
  });
});

describe('the heartbeat log cap in a crash loop', () => {
  test('a heartbeat that crashes at start with a huge trace, started again and again, never grows its log or .1 past the cap', async () => {
    await withHostile(async (h) => {
      fs.writeFileSync(path.join(h.dir, 'A.md'), task('A', 'todo'));
      const cap = 64 * 1024;
      // A module node loads before the heartbeat (NODE_OPTIONS reaches every node the tool starts):
      // it throws at start with a trace of CRASH_BYTES bytes, as a heartbeat broken at start would.
      const crash = path.join(h.root, 'crash.cjs');
      fs.writeFileSync(crash, "if (process.argv.includes('heartbeat')) throw new Error('crash at start ' + 'x'.repeat(Number(process.env.CRASH_BYTES)));\n");
      const log = runtimeFile(h.dir, h.owner, 'heartbeat.log');
      const size = (file: string): number => fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      const sizes: string[] = [];
      // Traces of 40 KB (two fit in no cap) and of 150 KB (more than the cap by itself).
      for (const bytes of [40_000, 40_000, 40_000, 40_000, 150_000, 40_000, 150_000, 40_000]) {
        const r = await cli(['ensure', ...args(h, 'interval=0.2')], { env: { ...fast, TASKS_LOG_MAX_BYTES: String(cap), NODE_OPTIONS: `--require ${crash}`, CRASH_BYTES: String(bytes) } });
        assert.equal(r.code, 1, `the heartbeat cannot start: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /the heartbeat exited with code 1 during start; last lines of .*\n[\s\S]*x{100}/);
        sizes.push(`${size(log)}+${size(`${log}.1`)}`);
        assert.ok(size(log) <= cap && size(`${log}.1`) <= cap, `heartbeat.log and its .1 stay within ${cap} bytes after each start: ${sizes.join(', ')}`);
      }
      // The last start's trace is kept whole (it fits), and a heartbeat that can start still does.
      assert.match(fs.readFileSync(log, 'utf8'), /crash at start x{40000}/);
      const ok = await cli(['ensure', ...args(h, 'interval=0.2')], { env: { ...fast, TASKS_LOG_MAX_BYTES: String(cap) } });
      assert.equal(ok.code, 0, ok.stderr);
      const pid = readPid(runtimeFile(h.dir, h.owner, 'heartbeat.pid'));
      assert.ok(pid !== undefined);
      assert.ok(size(log) <= cap && size(`${log}.1`) <= cap);
      assert.equal((await cli(['stop', ...args(h)], { env: fast })).code, 0);
    });
  });
});
