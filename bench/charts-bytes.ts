// The index's first-load bytes with the Fleet charts and without them (issue 20; target: at most 20 KB more, compressed as served).
// chartsBytes() builds the same 400-task site twice, with 30 days of a busy fleet's history (100 runs a day,
// a tick every 30 s) and without a history, and compresses the pages as the server's writer does (brotli 5);
// it also gives what the charts add to app.js and style.css. bench/history.ts calls it; run alone it prints the figures.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type * as Esbuild from 'esbuild';
import type { HistoryData, RunOutcome, RunRecord, TickRecord } from '../lib/manager/fleet-events.ts';
import { compactTicks, trimRuns } from '../lib/manager/history-compact.ts';
import { historyPaths, rewriteRecords } from '../lib/manager/history-file.ts';
import { TaskScanner } from '../lib/tasks/scan.ts';
import { renderFleet } from '../lib/web/render/charts.ts';
import { clientAssets } from '../lib/web/site/client-assets.ts';
import { HistoryView } from '../lib/web/site/history-view.ts';
import { SiteBuilder } from '../lib/web/site/site.ts';
import { brotliOptions } from '../lib/web/site/site-writer.ts';
import { generateTasks } from './generate.ts';

const DAY = 86_400_000;
const TASKS = 400;

/** As served: site-writer.ts's brotli settings. */
export function brotli(b: Buffer | string): number {
  const buf = Buffer.from(b);
  return zlib.brotliCompressSync(buf, brotliOptions(buf.length)).length;
}

/** 30 days of a busy fleet: a run every 15 minutes on the generated tasks (mixed outcomes, two in flight), a tick every 30 s with drifting counts. */
export function syntheticHistory(now: number, days = 30): HistoryData {
  const outcomes: RunOutcome[] = ['success', 'success', 'success', 'failed', 'success', 'timed_out', 'success', 'interrupted'];
  const runs: RunRecord[] = [];
  for (let end = now - days * DAY, i = 0; end <= now; end += DAY / 100, i++) {
    const id = `AREA_${Math.floor((i % TASKS) / 100)}-TASK_${i % TASKS}`;
    const durationS = 60 + ((i * 7919) % 2400);
    const running = end > now - DAY / 50;
    const outcome = running ? 'running' : (outcomes[i % outcomes.length] as RunOutcome);
    runs.push({ id, slug: id, host: 'host-1', owner: 'agent-1', start: new Date(end - durationS * 1000).toISOString(), end: running ? null : new Date(end).toISOString(),
      exit: running ? null : outcome === 'success' ? 0 : outcome === 'failed' ? 1 : null, durationS, outcome, key: `run:${i}` });
  }
  const ticks: TickRecord[] = [];
  for (let at = now - days * DAY, i = 0; at <= now; at += 30_000, i++) {
    const done = 100 + Math.floor(i / 2880);
    const ready = 5 + (i % 17);
    ticks.push({ at: new Date(at).toISOString(), counts: { total: TASKS, draft: 20, ready, in_progress: 3 + (i % 4), review: 17, completed: done }, ready, running: i % 4, escalations: i % 11 ? 0 : 1 });
  }
  return { runs, ticks };
}

export interface ChartsBytes {
  /** index.html, raw and brotli, without a history (no Fleet section) and with 30 days of it. */
  readonly index: { readonly without: number; readonly with: number; readonly withoutBr: number; readonly withBr: number };
  /** app.js and style.css as built now (charts included), brotli; and the charts' own code and rules, minified, brotli on their own (an upper bound of what they add). */
  readonly assets: { readonly appBr: number; readonly cssBr: number; readonly chartsJsBr: number; readonly chartsCssBr: number };
  /** What a first load (index + app.js + style.css) gains with the charts, brotli: the index's difference plus the charts' code and rules. */
  readonly firstLoadAddedBr: number;
}

/** Builds the site with and without the history and measures both (a temporary folder, removed after). */
export function chartsBytes(): ChartsBytes {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-charts-bytes-'));
  try {
    const dir = path.join(tmp, 'tasks');
    generateTasks(dir, TASKS);
    const scan = new TaskScanner(dir).scan();
    const now = new Date();
    const base = { project: 'Bench', tasks: scan.tasks, errors: scan.errors, docs: scan.docs, format: scan.format, snapshot: undefined, heartbeat: { running: false, pid: null }, now };
    const page = (out: string, history: HistoryData | undefined): Buffer => {
      new SiteBuilder(path.join(tmp, out)).build({ ...base, ...(history ? { history } : {}) });
      return fs.readFileSync(path.join(tmp, out, 'index.html'));
    };
    const without = page('without', undefined);
    const withCharts = page('with', syntheticHistory(now.getTime()));
    const asset = (name: string): Buffer => (clientAssets().find((a) => a.name === name) as { bytes: Buffer }).bytes;
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
    const client = path.join(import.meta.dirname, '..', 'lib', 'web', 'client');
    const js = esbuild.buildSync({ entryPoints: [path.join(client, 'charts.ts')], bundle: true, minify: true, format: 'iife', target: 'es2020', write: false }).outputFiles[0]?.contents ?? new Uint8Array();
    const css = fs.readFileSync(path.join(client, 'style.css'), 'utf8');
    const rules = css.slice(css.indexOf('/* The Fleet charts'));
    const cssMin = esbuild.transformSync(rules, { loader: 'css', minify: true }).code;
    const index = { without: without.length, with: withCharts.length, withoutBr: brotli(without), withBr: brotli(withCharts) };
    const assets = { appBr: brotli(asset('app.js')), cssBr: brotli(asset('style.css')), chartsJsBr: brotli(Buffer.from(js)), chartsCssBr: brotli(cssMin) };
    return { index, assets, firstLoadAddedBr: index.withBr - index.withoutBr + assets.chartsJsBr + assets.chartsCssBr };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * What the charts cost a build, with a year of history on file (compacted as the recorder leaves it):
 * a read that parses the files again (history-view.ts does so at most once a minute) and the drawing, the median of 5 each.
 */
export function chartsBuildMs(): { readMs: number; drawMs: number } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-charts-cost-'));
  try {
    const now = new Date();
    const year = syntheticHistory(now.getTime(), 365);
    const p = historyPaths(tmp, 'bench');
    fs.mkdirSync(p.stateDir, { recursive: true });
    rewriteRecords(p.ticks, compactTicks(year.ticks, now));
    rewriteRecords(p.runs, trimRuns(year.runs.filter((r) => r.outcome !== 'running'), now));
    const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
    const reads: number[] = [];
    const draws: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      const history = new HistoryView().read(tmp, 'bench', undefined, now);
      reads.push(performance.now() - t);
      t = performance.now();
      renderFleet({ history, now, refs: new Map(), order: ['draft', 'ready', 'in_progress', 'review', 'completed'], word: String });
      draws.push(performance.now() - t);
    }
    return { readMs: mid(reads), drawMs: mid(draws) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;

/** The figures as lines, for bench/history.ts. */
export function chartsBytesLines(b: ChartsBytes = chartsBytes()): string[] {
  return [
    `index.html (${TASKS} tasks): ${kb(b.index.without)} without charts, ${kb(b.index.with)} with 30 days of history; brotli ${kb(b.index.withoutBr)} -> ${kb(b.index.withBr)} (+${kb(b.index.withBr - b.index.withoutBr)})`,
    `app.js ${kb(b.assets.appBr)} and style.css ${kb(b.assets.cssBr)} brotli, of which the charts' code ~${kb(b.assets.chartsJsBr)} and rules ~${kb(b.assets.chartsCssBr)}`,
    `first load with the charts: +${kb(b.firstLoadAddedBr)} brotli (target: at most +20 KB): ${b.firstLoadAddedBr <= 20 * 1024 ? 'met' : 'NOT met'}`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of chartsBytesLines()) console.log(line);
  const cost = chartsBuildMs();
  console.log(`a build's Fleet section with a year of history on file: ${cost.readMs.toFixed(1)} ms to read 30 days (the files parsed again: at most once a minute), ${cost.drawMs.toFixed(1)} ms to draw`);
}
