// The bundle's layout for a fast `status`: it runs from dist/tasks.mjs alone, says exactly what the
// sources say, and every class still exists once across the entry and its chunks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ROOT, SCRIPT, TSX, cliEnv, run, runtimeFile, withTempFolder } from './helpers.ts';

const DIST = path.join(ROOT, 'dist');
const BUNDLE = path.join(DIST, 'tasks.mjs');

/** One status call both ways: the bundle, and the sources through tsx (what a stale bundle falls back to). */
async function bothWays(args: readonly string[]): Promise<{ bundle: string; sources: string }> {
  const [b, s] = await Promise.all([
    run(process.execPath, [BUNDLE, ...args], { timeoutMs: 60_000 }),
    run(process.execPath, ['--import', TSX, SCRIPT, ...args], { timeoutMs: 60_000 }),
  ]);
  const shown = (r: typeof b): string => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
  return { bundle: shown(b), sources: shown(s) };
}

/** Runs node with a resolve hook that notes every module the process loads: the run, and those modules' URLs. */
async function withLoads(root: string, args: readonly string[]): Promise<{ r: Awaited<ReturnType<typeof run>>; urls: string[] }> {
  const seen = path.join(root, `loaded-${Date.now()}.txt`);
  const hooks = path.join(root, 'hooks.mjs');
  fs.writeFileSync(hooks, `import fs from 'node:fs';\nlet out;\nexport function initialize(file) { out = file; }\nexport async function resolve(s, c, next) { const r = await next(s, c); fs.appendFileSync(out, r.url + '\\n'); return r; }\n`);
  const register = path.join(root, 'register.mjs');
  fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)}, { data: ${JSON.stringify(seen)} });\n`);
  const r = await run(process.execPath, ['--import', register, ...args], { timeoutMs: 60_000 });
  return { r, urls: fs.readFileSync(seen, 'utf8').trim().split('\n') };
}

describe('status from the bundle', () => {
  // Built from the sources under test, so a bundle of older code never passes (nor the fallback alone).
  before(() => {
    execFileSync(process.execPath, ['scripts/prepare.mjs'], { cwd: ROOT, env: cliEnv(), stdio: 'ignore', timeout: 120_000 });
  });

  test('status loads dist/tasks.mjs and no chunk, and runs no child', async () => {
    await withTempFolder('stb', async ({ root, dir, owner }) => {
      const { r, urls } = await withLoads(root, [BUNDLE, 'status', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
      assert.deepEqual(urls.filter((u) => u.includes('/dist/')).map((u) => path.relative(DIST, new URL(u).pathname)), ['tasks.mjs'], urls.join('\n'));
      // A stale bundle hands over to the sources in a child: then this test measured nothing.
      assert.ok(!urls.includes('node:child_process'), `status ran the sources (a source file is newer than the bundle?):\n${urls.join('\n')}`);
    });
  });

  test('the bundle and the sources print the same status: stopped, --json, a bad key', async () => {
    await withTempFolder('stb', async ({ dir, owner }) => {
      for (const args of [['status', `owner=${owner}`, `dir=${dir}`], ['status', `owner=${owner}`, `dir=${dir}`, '--json'], ['status', `owner=${owner}`, `dir=${dir}`, 'colour=red']]) {
        const { bundle, sources } = await bothWays(args);
        assert.equal(bundle, sources, args.join(' '));
      }
    });
  });

  test('the bundle and the sources print the same status with a running heartbeat (times aside)', async () => {
    await withTempFolder('stb', async ({ dir, owner }) => {
      const ensure = await run(process.execPath, [BUNDLE, 'ensure', `owner=${owner}`, `dir=${dir}`], { timeoutMs: 60_000 });
      assert.equal(ensure.code, 0, ensure.stdout + ensure.stderr);
      const snapshot = runtimeFile(dir, owner, 'snapshot.json');
      for (let t0 = Date.now(); !fs.existsSync(snapshot); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() - t0 > 60_000) throw new Error('no snapshot within 60 s');
      }
      // Ages, uptimes and tick durations move between the two calls; every word and field must not.
      const timeless = (s: string): string => s.replace(/\d+/g, '#');
      for (const args of [['status', `owner=${owner}`, `dir=${dir}`], ['status', `owner=${owner}`, `dir=${dir}`, '--json']]) {
        const { bundle, sources } = await bothWays(args);
        assert.match(bundle, /^exit 0\n/, bundle);
        assert.equal(timeless(bundle), timeless(sources), args.join(' '));
      }
      await run(process.execPath, [BUNDLE, 'stop', `owner=${owner}`, `dir=${dir}`], { timeoutMs: 60_000 });
    });
  });

  test('a stale bundle: status runs the sources only when a file it runs is newer; other actions when any is', async () => {
    await withTempFolder('stb', async ({ root, dir, owner }) => {
      // A copy of the checkout to edit, so the real one's bundle stays current for everyone else.
      const copy = path.join(root, 'checkout');
      for (const f of ['lib', 'scripts', 'package.json', 'tsconfig.json', 'dist']) fs.cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true });
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
      const edit = (file: string, from: string, to: string): void => {
        const p = path.join(copy, file);
        const text = fs.readFileSync(p, 'utf8');
        assert.ok(text.includes(from), `${file} says ${from}`);
        fs.writeFileSync(p, text.replace(from, to));
        const later = new Date(Date.now() + 60_000);
        fs.utimesSync(p, later, later);
      };
      const tasks = (...args: string[]): ReturnType<typeof run> => run(process.execPath, [path.join(copy, 'dist', 'tasks.mjs'), ...args, `owner=${owner}`, `dir=${dir}`], { timeoutMs: 60_000 });
      edit('lib/cli/actions/logs.ts', 'no heartbeat log yet', 'EDITED: no heartbeat log yet');
      assert.match((await tasks('logs')).stderr, /EDITED/, 'logs runs the edited sources');
      const { r: st, urls } = await withLoads(root, [path.join(copy, 'dist', 'tasks.mjs'), 'status', `owner=${owner}`, `dir=${dir}`]);
      assert.equal(st.code, 3, st.stderr);
      assert.ok(!urls.includes('node:child_process'), `status ran the sources, though none of its files changed:\n${urls.join('\n')}`);
      edit('lib/cli/status.ts', "'server     not running'", "'server     not running (EDITED)'");
      assert.match((await tasks('status')).stdout, /^server {5}not running \(EDITED\)$/m, 'status runs the edited sources');
    });
  });

  test('each class exists once: an error thrown in a chunk is known to the entry', async () => {
    const files = [BUNDLE, ...fs.readdirSync(path.join(DIST, 'chunks')).map((f) => path.join(DIST, 'chunks', f))];
    const defining = files.filter((f) => /\bclass TasksError\b|\bTasksError = class\b/.test(fs.readFileSync(f, 'utf8')));
    assert.equal(defining.length, 1, `TasksError defined in ${defining.map((f) => path.relative(DIST, f)).join(', ')}`);
    await withTempFolder('stb', async ({ dir, owner }) => {
      // release lives in a chunk; its TasksError must reach the entry as one (exit 2, no "bug").
      const r = await run(process.execPath, [BUNDLE, 'release', 'id=NO-SUCH-TASK', `owner=${owner}`, `dir=${dir}`], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^tasks: unknown task/);
    });
  });

  test('a copy of dist/ without its sources beside it runs (it has nothing to be older than)', () => withTempFolder('bundlecopy', async (t) => {
    const copy = path.join(t.root, 'copy');
    fs.cpSync(DIST, path.join(copy, 'dist'), { recursive: true });
    // An action past the check of every source file (not status, not --help).
    const r = await run(process.execPath, [path.join(copy, 'dist', 'tasks.mjs'), 'stop', `owner=${t.owner}`, `dir=${t.dir}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^no heartbeat running for /i);
  }));
});
