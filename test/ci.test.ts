import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { summariseChecks } from '../lib/manager/ci.ts';
import { ciMapOf, ciOf, type WebSnapshot } from '../lib/web/render/snapshot-read.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { cli, cliEnv, withTempFolder, waitUntil, type Folder } from './helpers.ts';

function task(id: string, fields: Record<string, string> = {}): string {
  const lines = Object.entries({ id, title: `Task ${id}`, status: 'review', ...fields }).map(([k, v]) => `${k}: ${v}`);
  return `---\n${lines.join('\n')}\n---\n## Plan\n- [x] done\n`;
}

const check = (bucket: string): Record<string, string> => ({ name: `check-${bucket}`, state: bucket.toUpperCase(), bucket });

/**
 * A stand-in `gh` on PATH: `gh pr checks <n> --json name,state,bucket` prints what checks-<n>.json
 * holds (gh's documented JSON) after an optional pause, and counts its calls in calls.txt.
 */
/** A stand-in gh; with `gated`, every call waits until open() (or 30 s) before it answers. */
function standInGh(t: Folder, checks: Record<string, unknown[]>, gated = false): { env: Record<string, string>; calls: () => string[]; open: () => void } {
  const bin = path.join(t.root, 'bin');
  fs.mkdirSync(bin);
  // The PR as gh gets it (a number or a URL) names its file, with everything but letters and digits as _.
  for (const [pr, list] of Object.entries(checks)) fs.writeFileSync(path.join(bin, `checks-${pr.replace(/[^A-Za-z0-9]/g, '_')}.json`), JSON.stringify(list));
  fs.writeFileSync(path.join(bin, 'gh'), [
    '#!/bin/sh',
    `echo "$*" >> "${bin}/calls.txt"`,
    `[ "$1 $2 $4" = "pr checks --json" ] && [ "$5" = "name,state,bucket" ] || { echo "unexpected: $*" >&2; exit 1; }`,
    gated ? `i=0; while [ ! -e "${bin}/open" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done` : '',
    'key=$(printf %s "$3" | tr -c A-Za-z0-9 _)',
    `cat "${bin}/checks-$key.json" 2>/dev/null || { echo "no pull requests found for $3" >&2; exit 1; }`,
  ].join('\n') + '\n', { mode: 0o755 });
  const file = path.join(bin, 'calls.txt');
  return {
    env: cliEnv({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` }),
    calls: () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : []),
    open: () => fs.writeFileSync(path.join(bin, 'open'), ''),
  };
}

function writeTasks(t: Folder, files: Record<string, string>): void {
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(t.dir, name), text);
}

async function once(t: Folder, env: Record<string, string>): Promise<Record<string, any>> {
  const r = await cli(['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, '--once', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

describe('CI from gh', () => {
  test('gh\'s checks decide a PR\'s CI; the file\'s ci: wins; a failing PR is escalated', async () => {
    await withTempFolder('ci', async (t) => {
      writeTasks(t, {
        'FAIL.md': task('FAIL', { pr: '12' }),
        'PASS.md': task('PASS', { pr: 'https://github.com/acme/tool/pull/14' }),
        'WAIT.md': task('WAIT', { pr: '"#15"' }),
        'FILE.md': task('FILE', { pr: '13', ci: 'passing' }),
        // A ci: that is not a CI state says nothing: gh decides.
        'ODD.md': task('ODD', { pr: '17', ci: 'bogus' }),
        'NONE.md': task('NONE'),
        'DONE.md': task('DONE', { pr: '16', status: 'completed' }),
      });
      const gh = standInGh(t, {
        12: [check('pass'), check('fail'), check('pending')],
        'https://github.com/acme/tool/pull/14': [check('pass'), check('skipping')],
        13: [check('fail')],
        15: [check('pass'), check('pending'), check('skipping')],
        17: [check('fail')],
      });
      const snap = await once(t, gh.env);
      const ci = snap.ci as Record<string, { state: string; source: string; checkedAt: string | null; pr: string }>;
      assert.deepEqual(Object.fromEntries(Object.entries(ci).map(([id, c]) => [id, [c.state, c.source]])), {
        FAIL: ['failing', 'gh'], PASS: ['passing', 'gh'], WAIT: ['pending', 'gh'], FILE: ['passing', 'frontmatter'], ODD: ['failing', 'gh'], DONE: ['unknown', 'none'],
      });
      assert.ok(!Number.isNaN(Date.parse(ci.FAIL?.checkedAt ?? '')));
      assert.equal(ci.FAIL?.pr, '12');
      assert.deepEqual(gh.calls().map((c) => c.split(' ')[2]).sort(), ['12', '15', '17', 'https://github.com/acme/tool/pull/14'], 'not asked: the file says (13), finished (16), no PR');
      assert.deepEqual(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]), [['FAIL', 'CI failing on 12'], ['ODD', 'CI failing on 17']]);
    });
  });

  test('without gh on PATH every PR\'s CI is unknown, and the file\'s ci: still counts', async () => {
    await withTempFolder('ci', async (t) => {
      writeTasks(t, { 'A.md': task('A', { pr: '12' }), 'B.md': task('B', { pr: '13', ci: 'failing' }) });
      const noGh = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '' && !fs.existsSync(path.join(d, 'gh')));
      const snap = await once(t, cliEnv({ PATH: noGh.join(path.delimiter) }));
      assert.deepEqual(snap.ci.A, { state: 'unknown', checkedAt: null, pr: '12', source: 'none' });
      assert.deepEqual([snap.ci.B.state, snap.ci.B.source], ['failing', 'frontmatter']);
      assert.deepEqual(snap.escalations.map((e: { id: string; reason: string }) => [e.id, e.reason]), [['B', 'CI failing on 13']]);
    });
  });

  test('a running heartbeat asks gh at most once per PR in 5 minutes, and never waits for it', async () => {
    await withTempFolder('ci', async (t) => {
      writeTasks(t, { 'A.md': task('A', { pr: '12' }), 'B.md': task('B', { pr: '12' }), 'C.md': task('C', { pr: '21' }) });
      // A gh that answers only when the test lets it: ticks every 0.1 s must go on meanwhile.
      const gh = standInGh(t, { 12: [check('fail')], 21: [check('pass')] }, true);
      const snapshot = path.join(t.dir, 'logs', 'task_manager', `task-manager-${t.owner}.snapshot.json`);
      const read = (): Record<string, any> | undefined => {
        try { return JSON.parse(fs.readFileSync(snapshot, 'utf8')) as Record<string, any>; } catch { return undefined; }
      };
      const ensured = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.1'], { env: gh.env });
      assert.equal(ensured.code, 0, ensured.stderr);
      try {
        await waitUntil(() => gh.calls().length === 2, 'gh asked about both PRs', 20_000);
        const asked = read()?.tick ?? 0;
        // gh has not answered yet, and five more ticks end: no tick waits for it.
        const later = await waitUntil(() => { const s = read(); return s && s.tick >= asked + 5 && s; }, 'five ticks while gh is still running', 20_000);
        assert.equal(later.ci?.A?.state, 'unknown', 'no answer before gh gave one');
        gh.open();
        const first = await waitUntil(() => {
          const s = read();
          return s?.ci?.A?.state === 'failing' && s.ci.C?.state === 'passing' && s;
        }, `gh's answer in the snapshot; last: ${JSON.stringify(read()?.ci)}`, 20_000);
        assert.equal(first.ci.B.state, 'failing', 'two tasks on one PR share its answer');
        // Many more ticks: gh is not asked again within 5 minutes.
        await waitUntil(() => (read()?.tick ?? 0) >= first.tick + 20, '20 more ticks', 20_000);
        assert.deepEqual(gh.calls().map((c) => c.split(' ')[2]).sort(), ['12', '21']);
      } finally {
        gh.open();
        await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
      }
    });
  });

  test('gh\'s buckets as one state', () => {
    const cases: [unknown, string][] = [
      [[check('pass'), check('skipping')], 'passing'],
      [[check('pass'), check('fail')], 'failing'],
      [[check('pass'), check('cancel')], 'failing'],
      [[check('pending'), check('pass')], 'pending'],
      [[check('fail'), check('pending')], 'failing'],
      [[], 'unknown'],
      [[{ name: 'x' }], 'unknown'],
      [{ bucket: 'pass' }, 'unknown'],
      ['nonsense', 'unknown'],
    ];
    for (const [doc, state] of cases) assert.equal(summariseChecks(doc), state, JSON.stringify(doc));
  });

  test('the server falls back to what gh said only: the snapshot\'s echoes of a file\'s ci: and its unknowns are not kept, and the file read now wins', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const checks = ciMapOf({ ci: {
      GH: { state: 'failing', checkedAt: at, pr: '#1', source: 'gh' },
      ECHO: { state: 'passing', checkedAt: null, pr: null, source: 'frontmatter' },
      NONE: { state: 'unknown', checkedAt: null, pr: '#3', source: 'none' },
      ODD: { state: 'green', checkedAt: at, pr: '#4', source: 'gh' },
      OLD: { state: 'pending' },
    } } as unknown as WebSnapshot);
    assert.deepEqual([...checks], [['GH', 'failing'], ['OLD', 'pending']]);
    const t = (id: string, ci: Task['ci']): Task => ({ id, ci }) as Task;
    // ECHO's file had `ci: passing` at the tick and has none now: the file read now is the truth.
    assert.deepEqual([ciOf(t('GH', 'unknown'), checks), ciOf(t('GH', 'passing'), checks), ciOf(t('ECHO', 'unknown'), checks)], ['failing', 'passing', 'unknown']);
  });
});
