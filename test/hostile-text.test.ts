// Hostile text against the real CLI: ids and titles never forge a terminal line or a pasteable command, bidi and
// line-separator characters are escaped, overlong ids and log lines are bounded, a run that cannot be spawned is
// recorded and escalated, ids compare NFC-normalised, and runtime paths of the wrong kind get one clear line (issue 15 follow-up: F6-F9, R4, R6, R8c).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Folder, alive, cli, readPid, runtimeFile, waitUntil, withTempFolder } from './helpers.ts';

/** A temp folder without the default task: each test writes its own. */
const withFolder = (fn: (f: Folder) => Promise<void>): Promise<void> => withTempFolder('ht', (f) => {
  fs.rmSync(path.join(f.dir, 'FIRST-TASK.md'));
  return fn(f);
});

/** A task file; the id goes in as a YAML double-quoted string, so any character can be written. */
function writeTask(f: Folder, name: string, id: string, more = ''): void {
  fs.writeFileSync(path.join(f.dir, `${name}.md`), `---\nid: ${JSON.stringify(id)}\nstatus: ready\n${more}---\nbody\n`);
}

const stateDir = (f: Folder): string => path.join(f.dir, 'logs', 'task_manager');

interface Snap { errors: { path: string; reason: string }[]; escalations: { id: string; reason: string }[] }
const snapshot = (f: Folder): Snap => JSON.parse(fs.readFileSync(runtimeFile(f.dir, f.owner, 'snapshot.json'), 'utf8')) as Snap;

interface Claim { id: string; state: string; note?: string; claimedAt: string; log: string | null }
const claims = (f: Folder): Claim[] => Object.values((JSON.parse(fs.readFileSync(path.join(stateDir(f), 'registry.json'), 'utf8')) as { claims: Record<string, Claim> }).claims);

/** The words a POSIX shell makes of a hint, as `sh` itself splits them (what pasting it would run). */
function shellWords(hint: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${hint}`], { encoding: 'utf8', timeout: 10_000 });
  return out.split('\0').slice(0, -1);
}

/** The command after `<label>: just tasks ` in a status line: the log hint ends where `; rerun: ` starts, the rerun hint at the line's end. */
function hintAfter(line: string, label: 'log' | 'rerun'): string {
  const at = line.indexOf(`${label}: just tasks `);
  assert.ok(at >= 0, `no "${label}:" hint in ${JSON.stringify(line)}`);
  const rest = line.slice(at + label.length + ': just tasks '.length);
  return label === 'log' ? rest.slice(0, rest.lastIndexOf('; rerun: ')) : rest;
}

const FORGED = 'C3\nfailed     FAKE (exit code 0)';
const INJECTED = `X1 dir=/tmp; touch PWNED-HT #`;
const QUOTE = `Q'1 $(touch PWNED-HT) \`x\` "y"`;

describe('ids in terminal output and hints (F6)', () => {
  test('status shows each id escaped on its own line, and its retry and logs hints give back the exact id through sh', async () => {
    await withFolder(async (f) => {
      writeTask(f, 'c3', FORGED);
      writeTask(f, 'x1', INJECTED);
      writeTask(f, 'q1', QUOTE);
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, 'dispatch=exit 3', 'worktrees=off', 'max=5']);
      assert.equal(once.code, 0, once.stderr);
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`]);
      const lines = st.stdout.split('\n');
      assert.ok(!lines.some((l) => l.startsWith('failed     FAKE')), st.stdout);
      const failed = lines.filter((l) => l.startsWith('failed     '));
      assert.equal(failed.length, 3, st.stdout);
      // Run in the temp folder, so a hint that failed to quote would leave PWNED-HT there.
      const words = (h: string): string[] => execFileSync('/bin/sh', ['-c', `cd ${JSON.stringify(f.root)} && printf '%s\\0' ${h}`], { encoding: 'utf8', timeout: 10_000 }).split('\0').slice(0, -1);
      const ids = [FORGED, INJECTED, QUOTE].map((id) => `id=${id}`).sort();
      assert.deepEqual(failed.map((l) => words(hintAfter(l, 'rerun'))).sort(), ids.map((i) => ['retry', i, `dir=${f.dir}`]), st.stdout);
      assert.deepEqual(failed.map((l) => words(hintAfter(l, 'log'))).sort(), ids.map((i) => ['logs', i, `dir=${f.dir}`]), st.stdout);
      assert.equal(fs.existsSync(path.join(f.root, 'PWNED-HT')), false);
    });
  });

  test('release prints one line, the id escaped, and its retry hint names the task again through sh', async () => {
    await withFolder(async (f) => {
      writeTask(f, 'c3', FORGED);
      writeTask(f, 'x1', INJECTED);
      for (const id of [FORGED, INJECTED]) {
        const r = await cli(['release', `id=${id}`, `owner=${f.owner}`, `dir=${f.dir}`]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trimEnd().split('\n').length, 1, r.stdout);
        const hint = r.stdout.trimEnd().slice(r.stdout.indexOf('until: just tasks ') + 'until: just tasks '.length);
        assert.deepEqual(shellWords(hint), ['retry', `id=${id}`, `dir=${f.dir}`], r.stdout);
      }
    });
  });
});

describe('line separators and bidi controls (F7)', () => {
  test('are escaped in the run log and the heartbeat log, and never reach the terminal', async () => {
    await withFolder(async (f) => {
      const id = 'R\u202eLTR\u2066x\u2069\u2028y\u200e';
      writeTask(f, 'r1', id, 'title: "T\u2029itle \u202d"\n');
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, 'dispatch=exit 3', 'worktrees=off']);
      assert.equal(once.code, 0, once.stderr);
      const raw = /[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
      const log = fs.readFileSync(path.join(stateDir(f), 'runs', 'r1.log'), 'utf8');
      assert.ok(log.includes('R\\u202eLTR\\u2066x\\u2069\\u2028y\\u200e'), log);
      assert.ok(!raw.test(log), log);
      assert.ok(!raw.test(once.stdout), once.stdout);
      const st = await cli(['status', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.ok(st.stdout.includes('failed     '), st.stdout);
      assert.ok(!raw.test(st.stdout), st.stdout);
    });
  });
});

describe('overlong ids and log lines, and runs that cannot be spawned (F8)', () => {
  test('an id over 200 characters and a title over 1000 are parse errors; 3 MB of id never reaches a log', async () => {
    await withFolder(async (f) => {
      writeTask(f, 'ok', 'i'.repeat(200), `title: ${'t'.repeat(1000)}\n`);
      writeTask(f, 'long-id', 'i'.repeat(201));
      writeTask(f, 'huge-id', 'h'.repeat(3_000_000));
      writeTask(f, 'long-title', 'LT', `title: ${'t'.repeat(1001)}\n`);
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, 'dispatch=true', 'worktrees=off', 'max=5']);
      assert.equal(once.code, 0, once.stderr);
      const errors = Object.fromEntries(snapshot(f).errors.map((e) => [e.path, e.reason]));
      assert.deepEqual(errors, {
        // 3 MB of id is past the 1 MiB a task file is read to: the frontmatter never closes within it.
        'huge-id.md': 'frontmatter is not closed by --- within the first 1048576 bytes, the most of a task file that is read (the file is 3000034 bytes); close it earlier',
        'long-id.md': 'id is 201 characters; the limit is 200',
        'long-title.md': 'title is 1001 characters; the limit is 1000',
      });
      assert.deepEqual(claims(f).map((c) => c.id), ['i'.repeat(200)]);
      assert.ok(once.stdout.length < 64 * 1024, `heartbeat output is ${once.stdout.length} bytes`);
      assert.ok(fs.statSync(runtimeFile(f.dir, f.owner, 'snapshot.json')).size < 64 * 1024);
    });
  });

  test('a log line is cut at 4096 bytes and says how much more there was', async () => {
    await withFolder(async (f) => {
      writeTask(f, 'w1', 'W1');
      const dispatch = `true #${'x'.repeat(20_000)}`;
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, `dispatch=${dispatch}`, 'worktrees=off']);
      assert.equal(once.code, 0, once.stderr);
      const header = fs.readFileSync(path.join(stateDir(f), 'runs', 'w1.log'), 'utf8').split('\n')[0] ?? '';
      assert.ok(Buffer.byteLength(header) <= 4096, `header is ${Buffer.byteLength(header)} bytes`);
      assert.match(header, /^=== .* dispatches W1 .*x…\(\d+ bytes more\)$/);
      for (const line of once.stdout.split('\n')) assert.ok(Buffer.byteLength(line) <= 4096, `a heartbeat log line of ${Buffer.byteLength(line)} bytes`);
    });
  });

  test('an id holding a NUL (which would reach TASK_ID, and no database can store) is a parse error: never claimed, never spawned, and the tick goes on', async () => {
    await withFolder(async (f) => {
      writeTask(f, 'n1', 'N\u0000UL');
      writeTask(f, 'ok1', 'OK1');
      const args = ['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`, 'dispatch=true', 'worktrees=off', 'max=5'];
      const first = await cli(args);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(claims(f).map((c) => c.id), ['OK1'], JSON.stringify(claims(f)));
      assert.ok(snapshot(f).errors.some((e) => /id holds a NUL/.test(e.reason)), JSON.stringify(snapshot(f).errors));
      assert.ok(!/dispatch of .* failed/.test(first.stdout), first.stdout);
    });
  });
});

describe('ids compare NFC-normalised (F9)', () => {
  test('café in NFC and in NFD is a duplicate id, and id= in either form names the task', async () => {
    await withFolder(async (f) => {
      const nfc = 'caf\u00e9';
      const nfd = 'cafe\u0301';
      writeTask(f, 'a-nfc', nfc);
      writeTask(f, 'b-nfd', nfd);
      const once = await cli(['heartbeat', '--once', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(once.code, 0, once.stderr);
      assert.deepEqual(snapshot(f).errors.map((e) => [e.path, e.reason.startsWith('duplicate id')]), [['b-nfd.md', true]]);
      fs.rmSync(path.join(f.dir, 'b-nfd.md'));
      const r = await cli(['release', `id=${nfd}`, `owner=${f.owner}`, `dir=${f.dir}`, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { id: string }).id, nfc);
    });
  });
});

describe('runtime paths of the wrong kind (R4, R6, R8c)', () => {
  test('a folder in the heartbeat log\'s place: ensure says what to remove, exit 1, no stack', async () => {
    await withFolder(async (f) => {
      writeTask(f, 't1', 'T1');
      const log = runtimeFile(f.dir, f.owner, 'heartbeat.log');
      fs.mkdirSync(log, { recursive: true });
      const r = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `tasks: ${log} is a folder, not a file; remove it (rm -r ${log}) and run again\n`);
    });
  });

  /** Starts a heartbeat (no tick for a minute after its first), then lets `change` put a link in place; `stop` must still stop it. */
  async function stopWithLink(f: Folder, change: (state: string) => void): Promise<{ stdout: string; stderr: string }> {
    writeTask(f, 't1', 'T1');
    const up = await cli(['ensure', `owner=${f.owner}`, `dir=${f.dir}`, 'interval=60']);
    assert.equal(up.code, 0, up.stderr);
    const pid = readPid(runtimeFile(f.dir, f.owner, 'heartbeat.pid'));
    assert.ok(pid !== undefined && alive(pid));
    f.extra.push(pid);
    change(stateDir(f));
    const r = await cli(['stop', `owner=${f.owner}`, `dir=${f.dir}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stopped heartbeat/);
    await waitUntil(() => !alive(pid), `heartbeat ${pid} to exit`);
    return r;
  }

  test('stop stops the heartbeat, and marks it stopped, when runs/ is a link', async () => {
    await withFolder(async (f) => {
      const victim = path.join(f.root, 'victim');
      fs.mkdirSync(victim);
      const r = await stopWithLink(f, (state) => {
        fs.rmSync(path.join(state, 'runs'), { recursive: true, force: true });
        fs.symlinkSync(victim, path.join(state, 'runs'));
      });
      assert.equal(r.stderr, '');
      assert.ok(fs.existsSync(runtimeFile(f.dir, f.owner, 'heartbeat.stopped')));
      assert.deepEqual(fs.readdirSync(victim), []);
    });
  });

  test('stop stops the heartbeat when task_manager/ is a link, and says it left no stop mark', async () => {
    await withFolder(async (f) => {
      const moved = path.join(f.root, 'moved-state');
      let link = '';
      const r = await stopWithLink(f, (state) => {
        fs.renameSync(state, moved);
        fs.symlinkSync(moved, state);
        link = state;
      });
      assert.equal(r.stderr, `${link} is a symbolic link, so the heartbeat is not marked stopped (a running serve may start it again); remove it (rm ${link})\n`);
      assert.ok(!fs.readdirSync(moved).some((n) => n.endsWith('.stopped')), fs.readdirSync(moved).join(' '));
    });
  });

  test('logs id= with a link in the run log\'s place says it is a link and to remove it, exit 1', async () => {
    await withFolder(async (f) => {
      writeTask(f, 't1', 'T1');
      const victim = path.join(f.root, 'victim.txt');
      fs.writeFileSync(victim, 'secret\n');
      fs.mkdirSync(path.join(stateDir(f), 'runs'), { recursive: true });
      const link = path.join(stateDir(f), 'runs', 't1.log');
      fs.symlinkSync(victim, link);
      const r = await cli(['logs', 'id=T1', `owner=${f.owner}`, `dir=${f.dir}`]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `tasks: ${link} is a symbolic link, not a run log; remove it (rm ${link}); the next run writes a fresh one\n`);
    });
  });
});
