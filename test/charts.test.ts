// The Fleet charts as pure functions of a history and a time (timeline, throughput, status flow, durations), the index's section, the history the build shows, and a timed-out run recorded only once it has ended.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type HistoryData, type RunRecord, type TickRecord, eventsBetween } from '../lib/manager/fleet-events.ts';
import type { Claim } from '../lib/manager/registry.ts';
import type { Snapshot } from '../lib/manager/tick.ts';
import { DAY, durationText, median, outcomeClass, outcomeWord } from '../lib/web/client/charts-data.ts';
import { MAX_LANES, lanesOf, runLabel, timelineFigure } from '../lib/web/client/charts-timeline.ts';
import { bucketsOf, durationFigure } from '../lib/web/render/charts-duration.ts';
import { columnsOf, flowFigure } from '../lib/web/render/charts-flow.ts';
import { hoursOf, throughputFigure } from '../lib/web/render/charts-throughput.ts';
import { withSnapshot } from '../lib/web/site/history-view.ts';
import { SiteBuilder } from '../lib/web/site/site.ts';

const NOW = Date.parse('2026-12-07T12:30:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function run(id: string, startAgoS: number, durationS: number | null, outcome: RunRecord['outcome'], exit: number | null = outcome === 'success' ? 0 : null): RunRecord {
  const start = NOW - startAgoS * 1000;
  const end = durationS === null ? null : iso(start + durationS * 1000);
  return { id, slug: id, host: 'h', owner: 'o', start: iso(start), end, exit, durationS, outcome, key: `run:${id}@${start}` };
}

const tick = (agoS: number, counts: Record<string, number>, ready: number): TickRecord => ({ at: iso(NOW - agoS * 1000), counts, ready, running: 0, escalations: 0 });

test('durations, medians and labels read as the page says them', () => {
  assert.deepEqual([0.84, 42.4, 210, 7560].map(durationText), ['0.8 s', '42 s', '3.5 min', '2.1 h']);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), undefined);
  assert.equal(runLabel(run('A', 60, 1.2, 'failed', 1), NOW), 'A: failed, 1.2 s, exit 1');
  assert.equal(runLabel(run('B', 90, null, 'timed_out'), NOW), 'B: timed out, duration unknown, exit none');
  assert.equal(runLabel(run('C', 30, null, 'running'), NOW), 'C: running for 30 s, no exit code yet');
});

test('the timeline: a lane per task, the 20 that ran last, every bar a named link, running bars up to now, text escaped', () => {
  const runs = Array.from({ length: 25 }, (_, i) => run(`T-${i}`, 3600 - i * 60, 30, i % 3 ? 'success' : 'failed', i % 3 ? 0 : 2));
  runs.push(run('T-24', 20, null, 'running'), run('<img src=x>', 7200, 5, 'success'), run('OLD', 2 * 86400, 5, 'success'));
  const hrefOf = (id: string): string | null => (id.startsWith('T-') ? `tasks/${id}.html` : null);
  const { lanes, more } = lanesOf(runs, NOW, hrefOf);
  assert.equal(lanes.length, MAX_LANES);
  assert.equal(lanes[0]?.id, 'T-24', 'the task that started a run last comes first');
  assert.equal(lanes[0]?.runs.length, 2);
  assert.equal(more, 26 - MAX_LANES, 'the tasks left out are counted; the one older than 24 h is not among them');
  const html = timelineFigure(runs, NOW, hrefOf);
  assert.match(html, /The 20 tasks that ran last are shown; 6 more tasks ran too\./);
  const bars = [...html.matchAll(/<a id="run-[a-z0-9]+" href="([^"]+)" tabindex="(0|-1)"(?: aria-describedby="tl-keys")? aria-label="([^"]+)"[^>]*><title>([^<]+)<\/title><rect class="(o-[a-z_]+)" x="([\d.]+)" y="1" width="([\d.]+)"/g)]
    .map((m) => [m[0], m[1], m[3], m[4], m[5], m[6], m[7], m[2]]);
  assert.equal(bars.length, 21, 'one bar per run shown (T-24 ran twice)');
  assert.deepEqual(bars.map((b) => b[7]), ['0', ...Array<string>(20).fill('-1')], 'one tab stop: the first bar; the arrow keys reach the rest');
  assert.equal(html.match(/aria-describedby="tl-keys"/g)?.length, 1, 'the tab stop says how the keys move');
  assert.match(html, /<p id="tl-keys" hidden>Tab reaches one run of the timeline; the arrow keys move/);
  for (const b of bars) assert.equal(b[2], b[3], 'the accessible name is the tooltip');
  const live = bars.find((b) => b[4] === 'o-running');
  assert.ok(live);
  assert.equal(Number(live[5]) + Number(live[6]), 1000, 'a running bar reaches now, the right edge');
  assert.match(html, /aria-label="T-6: failed, 30 s, exit 2"/);
  const all = timelineFigure([run('<img src=x>', 60, 5, 'success')], NOW, () => null);
  assert.doesNotMatch(all, /<img/);
  assert.match(all, /role="img"/, 'a bar whose task has no page is not a link');
  assert.match(timelineFigure([], NOW, hrefOf), /No runs in the last 24 h/);
});

test('throughput: started and finished per clock hour, the share that succeeded', () => {
  const runs = [run('A', 120, 60, 'success'), run('B', 100, 30, 'failed', 1), run('C', 3 * 3600, 60, 'success'), run('D', 10, null, 'running'), run('E', 30 * 3600, 5, 'success')];
  const hours = hoursOf(runs, NOW);
  assert.equal(hours.length, 24);
  const last = hours[23] as { started: number; finished: number; succeeded: number };
  assert.deepEqual([last.started, last.finished, last.succeeded], [3, 2, 1]);
  const html = throughputFigure(runs, NOW);
  assert.match(html, /Last 24 h: 4 runs started, 3 finished, 2 of them succeeded \(67%\)\./);
  assert.match(html, /<details class="ch-table" id="tp-table"><summary>The hours as a table<\/summary>/, 'an id: a live swap keeps it open');
  assert.match(throughputFigure([], NOW), /No run started or finished/);
});

test('status flow: the last tick of each column, stacked with the finished statuses at the bottom; 24 h shows, 7 d and 30 d wait for the buttons', () => {
  const ticks = [tick(3 * 86400, { total: 10, ready: 8, completed: 2 }, 8), tick(7200, { total: 10, ready: 6, in_progress: 1, completed: 3 }, 6), tick(60, { total: 10, ready: 2, in_progress: 2, completed: 6 }, 2), tick(30, { total: 10, ready: 1, in_progress: 2, completed: 7 }, 1)];
  const cols = columnsOf(ticks, NOW, DAY, 48);
  assert.equal(cols.filter((c) => c !== undefined).length, 2);
  assert.equal(cols[47]?.counts.completed, 7, 'a column keeps its last tick');
  const html = flowFigure(ticks, NOW, ['draft', 'ready', 'in_progress', 'completed'], (s) => s.toUpperCase());
  assert.match(html, /<div class="ch-ranges" role="group" aria-label="Range" hidden>/);
  assert.match(html, /id="flow-24h" data-range="24h">/);
  assert.match(html, /id="flow-7d" data-range="7d" hidden>/);
  assert.match(html, /At the last recorded tick, 10 tasks: 1 READY, 2 IN_PROGRESS, 7 COMPLETED; over the last 24 h, the dispatchable queue went from 6 to 1 \(draining\)\./);
  assert.match(html, /over the last 7 d, the dispatchable queue went from 8 to 1/);
  assert.match(html, /<path class="s0" d="M/, 'completed is the first layer of the stack');
  assert.match(flowFigure([], NOW, [], String), /No ticks recorded/);
});

test('a status or outcome named constructor or __proto__ is counted as itself, never read off Object', () => {
  // As the history file and the snapshot give them: parsed JSON (own keys, `__proto__` included).
  const counts = (text: string): Record<string, number> => JSON.parse(text) as Record<string, number>;
  const ticks = [
    { ...tick(3 * 3600, {}, 1), counts: counts('{"total": 3, "constructor": 2, "__proto__": 1}') },
    { ...tick(60, {}, 1), counts: counts('{"total": 1, "ready": 1}') },
  ];
  const html = flowFigure(ticks, NOW, ['ready'], (s) => s);
  assert.doesNotMatch(html, /function|\[object|NaN/, 'no count read off Object.prototype');
  assert.match(html, /At the last recorded tick, 1 task: 1 ready;/);
  assert.match(html, /<tr><th scope="row">[\d: -]+<\/th><td>1<\/td><td>0<\/td><td>0<\/td><td>1<\/td><\/tr>/, 'the tick without them counts 0 of each');
  assert.match(html, /<tr><th scope="row">[\d: -]+<\/th><td>0<\/td><td>1<\/td><td>2<\/td><td>1<\/td><\/tr>/, 'the tick with them counts them');
  assert.match(html, /<th scope="col">__proto__<\/th><th scope="col">constructor<\/th>/);
  assert.deepEqual([outcomeWord('constructor'), outcomeClass('constructor'), outcomeWord('__proto__'), outcomeClass('toString')], ['constructor', 'o-other', '__proto__', 'o-other']);
  assert.match(timelineFigure([run('A', 60, 5, 'constructor' as RunRecord['outcome'])], NOW, () => null), /1 run of 1 task: 1 other\./);
});

test('durations: per hour while the history is young, else per day, with the trend', () => {
  const young = [run('A', 3600 * 20, 100, 'success'), run('B', 3600 * 2, 50, 'success'), run('C', 3600, 70, 'failed', 1), run('D', 60, null, 'running')];
  assert.equal(bucketsOf(young, NOW).hourly, true);
  const html = durationFigure(young, NOW);
  assert.match(html, /Median of 3 finished runs over the last 24 h: 70 s\. The last 12 h: 60 s, 40% shorter than the 12 h before \(1.7 min\)\./);
  const old = [...young, run('E', 86400 * 10, 200, 'success')];
  assert.equal(bucketsOf(old, NOW).hourly, false);
  assert.match(durationFigure(old, NOW), /over the last 30 d: 85 s\./);
  assert.match(durationFigure([run('X', 60, null, 'running')], NOW), /No run finished in the last 30 d/);
});

test('the index carries the Fleet section inline when the build has a history, and an empty hidden section (its link hidden too) without one', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-charts-'));
  try {
    const base = { project: 'P', tasks: [], errors: [], snapshot: undefined, heartbeat: { running: false, pid: null }, now: new Date(NOW) };
    new SiteBuilder(path.join(tmp, 'a')).build({ ...base, history: { runs: [run('A', 60, 5, 'success')], ticks: [tick(30, { total: 1, ready: 1 }, 1)] } });
    const withIt = fs.readFileSync(path.join(tmp, 'a', 'index.html'), 'utf8');
    assert.match(withIt, /<a href="#fleet">Fleet<\/a>/);
    assert.match(withIt, /<section id="fleet"><h2>Fleet<\/h2><div class="charts"><figure class="chart wide" id="fleet-timeline"/);
    assert.match(withIt, /id="fleet-throughput"[\s\S]*id="fleet-flow"[\s\S]*id="fleet-duration"/);
    new SiteBuilder(path.join(tmp, 'b')).build(base);
    const without = fs.readFileSync(path.join(tmp, 'b', 'index.html'), 'utf8');
    assert.match(without, /<section id="fleet" hidden><\/section>/);
    assert.match(without, /<a href="#fleet" hidden>Fleet<\/a>/);
    new SiteBuilder(path.join(tmp, 'c')).build({ ...base, history: { error: 'EACCES <x>' } });
    assert.match(fs.readFileSync(path.join(tmp, 'c', 'index.html'), 'utf8'), /The run history could not be read: EACCES &lt;x&gt;/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const claim = (over: Partial<Claim>): Claim => ({
  id: 'T', slug: 'T', path: 'T.md', claimedBy: 'o', claimedAt: iso(NOW - 10_000), startedAt: iso(NOW - 10_000), worktree: '/w', pid: 1, pidStart: '1', state: 'running', exitCode: null, endedAt: null, log: null, runId: 'r1', ...over,
});
const snap = (claims: Claim[], tickAt = iso(NOW)): Snapshot => ({
  owner: 'o', pid: 1, dir: '/d', tick: 1, tickAt, tickDurationMs: 1, interval: 30, nextTickAt: tickAt, taskCount: 1, counts: { total: 1, ready: 1 }, ready: [],
  claims: claims.map((c) => ({ ...c, owner: 'o', ageS: 1, worktreeExists: false, pr: null, ci: 'unknown' })), escalations: [], errors: [],
});

test('the build\'s history: the snapshot\'s runs in place of the same runs on file, its tick after the last on file', () => {
  const onFile: HistoryData = { runs: [{ ...run('T', 10, null, 'running'), key: 'run:r1' }], ticks: [tick(60, { total: 1 }, 0)] };
  const ended = claim({ state: 'exited', exitCode: 0, endedAt: iso(NOW - 4000) });
  const h = withSnapshot(onFile, snap([ended, claim({ id: 'U', runId: 'r2' }), claim({ id: 'V', runId: 'r3', claimedBy: 'other' })]), 'o', new Date(NOW));
  assert.deepEqual(h.runs.map((r) => [r.id, r.outcome, r.durationS]), [['T', 'success', 6], ['U', 'running', 10]], "another owner's claim is not this owner's history");
  assert.equal(h.ticks.length, 2);
  assert.equal(withSnapshot(onFile, snap([], iso(NOW - 90_000)), 'o', new Date(NOW)).ticks.length, 1, 'an older snapshot adds no tick');
});

test('a timed-out run is recorded once it has ended (with its end and duration), not when its stop begins', () => {
  const stopping = snap([claim({ state: 'timed_out', note: 'timed out after 2 s' })]);
  const stopped = snap([claim({ state: 'timed_out', note: 'timed out after 2 s', endedAt: iso(NOW - 8000) })]);
  const first = eventsBetween(snap([claim({})]), stopping, 'o', undefined, new Date(NOW));
  assert.deepEqual(first, [], 'nothing while the run is still being stopped');
  const second = eventsBetween(stopping, stopped, 'o', undefined, new Date(NOW));
  assert.equal(second.length, 1);
  const e = second[0] as { kind: string; run: RunRecord };
  assert.equal(e.kind, 'run-timed-out');
  assert.deepEqual([e.run.end, e.run.durationS], [iso(NOW - 8000), 2]);
});
