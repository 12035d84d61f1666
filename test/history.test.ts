import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cli, runtimeFile, serveBare, sleeperIn, stopServe, waitUntil, waitUntilAsync, withTempFolder, type Folder } from './helpers.ts';

/** A dispatch command: exits with the code in exit-<id> (0 without one); done-<id> present: marks its task done first (its claim is then released in the tick that sees it end). */
function dispatcher(root: string): string {
  const script = path.join(root, 'run.sh');
  fs.writeFileSync(script, [
    '#!/bin/sh',
    'd=$(dirname "$0")',
    'if [ -e "$d/done-$TASK_ID" ]; then sed "s/^status: ready/status: done/" "$TASK_FILE" > "$TASK_FILE.new" && mv "$TASK_FILE.new" "$TASK_FILE"; fi',
    'exit "$(cat "$d/exit-$TASK_ID" 2>/dev/null || echo 0)"',
  ].join('\n') + '\n', { mode: 0o755 });
  return script;
}

function task(id: string): string {
  return `---\nid: ${id}\ntitle: Task ${id}\nstatus: ready\npriority: p1\n---\nBody.\n`;
}

function lines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function setup(t: Folder): string {
  fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
  for (const id of ['A', 'B', 'C']) fs.writeFileSync(path.join(t.dir, `${id}.md`), task(id));
  fs.writeFileSync(path.join(t.root, 'done-A'), '');
  fs.writeFileSync(path.join(t.root, 'exit-B'), '3');
  return dispatcher(t.root);
}

describe('history', () => {
  test('records a tick per tick and a run per ended run; a restarted heartbeat records no run twice; history --json reads them', async () => {
    await withTempFolder('hist', async (t) => {
      const cmd = setup(t);
      const runsFile = runtimeFile(t.dir, t.owner, 'runs.jsonl');
      const ticksFile = runtimeFile(t.dir, t.owner, 'ticks.jsonl');
      const args = ['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.2', 'max=3', `dispatch=${cmd}`, 'worktrees=off'];
      const first = await cli(args);
      assert.equal(first.code, 0, first.stderr);
      await waitUntil(() => lines(runsFile).length >= 3, () => `three run records; runs file: ${JSON.stringify(lines(runsFile))}`);
      const runs = lines(runsFile);
      const by = Object.fromEntries(runs.map((r) => [r.id, r]));
      assert.deepEqual(Object.keys(by).sort(), ['A', 'B', 'C']);
      // A marked its task done: its claim was released in the tick that saw it end, and it is recorded all the same.
      assert.deepEqual([by.A?.outcome, by.A?.exit, by.B?.outcome, by.B?.exit, by.C?.outcome, by.C?.exit], ['success', 0, 'failed', 3, 'success', 0]);
      for (const r of runs) {
        assert.equal(r.owner, t.owner);
        assert.equal(typeof r.host, 'string');
        assert.ok((r.host as string).length > 0);
        assert.ok(Date.parse(r.start as string) <= Date.parse(r.end as string), JSON.stringify(r));
        assert.equal(typeof r.durationS, 'number');
        assert.match(r.key as string, /^run:/);
      }
      await waitUntil(() => lines(ticksFile).length >= 3, 'three tick records');
      const tick = lines(ticksFile).at(-1) as Record<string, unknown>;
      assert.deepEqual(Object.keys(tick).sort(), ['at', 'counts', 'escalations', 'ready', 'running']);
      assert.equal((tick.counts as Record<string, number>).total, 3);

      // Stopped and started again: the ended claims it sees again (B and C still claimed, A among the released) are not recorded again.
      assert.equal((await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`])).code, 0);
      const ticksBefore = lines(ticksFile).length;
      assert.equal((await cli(args)).code, 0);
      await waitUntil(() => lines(ticksFile).length >= ticksBefore + 5, 'five more ticks after the restart');
      assert.equal((await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`])).code, 0);
      assert.deepEqual(lines(runsFile).map((r) => r.id).sort(), ['A', 'B', 'C']);

      const json = await cli(['history', `owner=${t.owner}`, `dir=${t.dir}`, '--json']);
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout) as { runs: Record<string, unknown>[]; ticks: Record<string, unknown>[] };
      assert.deepEqual(Object.keys(doc), ['runs', 'ticks']);
      assert.deepEqual(doc.runs.map((r) => r.key).sort(), runs.map((r) => r.key).sort());
      assert.equal(doc.ticks.length, lines(ticksFile).length);
      const plain = await cli(['history', `owner=${t.owner}`, `dir=${t.dir}`, 'since=7d']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^\S+ {2}B {2}failed {2}\d+ s exit 3/m);
      assert.match(plain.stdout, /^3 runs since .*: 67% succeeded \(2 of 3\), median duration \d+ s$/m);

      // The server answers the same records, compressed when the client accepts it.
      const { s, base } = await serveBare(t);
      try {
        const res = await fetch(`${base}/api/history?since=7d`, { headers: { 'accept-encoding': 'br, gzip' } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-encoding'), 'br');
        const api = await res.json() as typeof doc;
        assert.deepEqual(Object.keys(api), ['runs', 'ticks']);
        assert.deepEqual(api.runs, doc.runs);
        assert.deepEqual(api.ticks, doc.ticks);
        const gz = await fetch(`${base}/api/history`, { headers: { 'accept-encoding': 'gzip' } });
        assert.equal(gz.headers.get('content-encoding'), 'gzip');
        assert.equal(((await gz.json()) as typeof doc).runs.length, 3);
        const bad = await fetch(`${base}/api/history?since=soon`);
        assert.equal(bad.status, 400);
        const text = await bad.text();
        assert.equal(text.trim().split('\n').length, 1);
        assert.match(text, /since must be .*got soon/);
      } finally {
        await stopServe(s);
      }
    });
  });

  test('a run in flight is served as running with no end, then recorded once it ends', async () => {
    await withTempFolder('hist', async (t) => {
      fs.rmSync(path.join(t.dir, 'FIRST-TASK.md'));
      fs.writeFileSync(path.join(t.dir, 'S.md'), task('S'));
      const gate = path.join(t.root, 'go');
      // Sleeps until the test creates the gate file (or 60 s), through a sleep killAll finds.
      const cmd = `i=0; until [ -e ${gate} ] || [ $i -ge 600 ]; do ${sleeperIn(t.root)} 0.1; i=$((i+1)); done`;
      assert.equal((await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.2', `dispatch=${cmd}`, 'worktrees=off'])).code, 0);
      const { s, base } = await serveBare(t);
      try {
        type Doc = { runs: Record<string, unknown>[] };
        const running = await waitUntilAsync(async () => {
          const doc = await (await fetch(`${base}/api/history`)).json() as Doc;
          return doc.runs.find((r) => r.id === 'S' && r.outcome === 'running');
        }, 'S running in /api/history');
        assert.equal(running.end, null);
        assert.equal(running.exit, null);
        assert.equal(running.owner, t.owner);
        fs.writeFileSync(gate, '');
        const ended = await waitUntilAsync(async () => {
          const doc = await (await fetch(`${base}/api/history`)).json() as Doc;
          return doc.runs.find((r) => r.id === 'S' && r.outcome === 'success');
        }, 'S recorded as a success');
        assert.equal(ended.key, running.key);
        assert.equal(((await (await fetch(`${base}/api/history`)).json()) as Doc).runs.length, 1);
      } finally {
        await stopServe(s);
        await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`]);
      }
    });
  });

  test('a bad since= is one usage line naming the value and the forms', async () => {
    await withTempFolder('hist', async (t) => {
      const r = await cli(['history', `owner=${t.owner}`, `dir=${t.dir}`, 'since=yesterday\u001b[31m']);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /since.*90m, 24h or 7d.*got `yesterday\\u001b\[31m`/);
      assert.doesNotMatch(r.stderr, /\u001b/);
    });
  });
});
