import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { RunRecord, TickRecord } from '../lib/manager/fleet-events.ts';
import { RUNS_MAX, compactTicks } from '../lib/manager/history-compact.ts';
import { parseTick } from '../lib/manager/history-file.ts';
import { cli, runtimeFile, waitUntil, withTempFolder, type Folder } from './helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function tickAt(ms: number, total = 1): TickRecord {
  return { at: new Date(ms).toISOString(), counts: { total, ready: total }, ready: total, running: 0, escalations: 0 };
}

function runAt(ms: number, i: number): RunRecord {
  const start = new Date(ms - 60_000).toISOString();
  return { id: `T-${i}`, slug: `T-${i}`, host: 'h', owner: 'o', start, end: new Date(ms).toISOString(), exit: 0, durationS: 60, outcome: 'success', key: `run:r${i}` };
}

function stateDir(t: Folder): string {
  const d = path.join(t.dir, 'logs', 'task_manager');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

async function history(t: Folder, since = '400d'): Promise<{ runs: RunRecord[]; ticks: TickRecord[] }> {
  const r = await cli(['history', `owner=${t.owner}`, `dir=${t.dir}`, `since=${since}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { runs: RunRecord[]; ticks: TickRecord[] };
}

async function once(t: Folder): Promise<void> {
  const r = await cli(['heartbeat', `owner=${t.owner}`, `dir=${t.dir}`, '--once', 'worktrees=off']);
  assert.equal(r.code, 0, r.stderr);
}

describe('history files', () => {
  test('a corrupt line and a truncated last line are skipped, and the next record is whole', async () => {
    await withTempFolder('histf', async (t) => {
      stateDir(t);
      const ticks = runtimeFile(t.dir, t.owner, 'ticks.jsonl');
      const runs = runtimeFile(t.dir, t.owner, 'runs.jsonl');
      const now = Date.now();
      const good = JSON.stringify(tickAt(now - HOUR));
      // A line that is not JSON, one of the wrong shape, then a write cut short (no newline).
      fs.writeFileSync(ticks, `${good}\nnot json\u001b[31m\n{"at":"yesterday"}\n${good.slice(0, 30)}`);
      fs.writeFileSync(runs, `${JSON.stringify(runAt(now - HOUR, 1))}\n{"id":1}\n[]\n${JSON.stringify(runAt(now - HOUR, 2)).slice(0, 40)}`);
      const before = await history(t);
      assert.equal(before.ticks.length, 1);
      assert.deepEqual(before.runs.map((r) => r.id), ['T-1']);
      await once(t);
      const after = await history(t);
      // The new tick was written on a line of its own: the cut line stays one bad line (or is dropped by the compaction at start).
      assert.equal(after.ticks.length, 2);
      assert.equal(after.ticks[1]?.counts.total, 1);
      assert.deepEqual(after.runs.map((r) => r.id), ['T-1']);
      for (const line of fs.readFileSync(ticks, 'utf8').trimEnd().split('\n').slice(-1)) assert.doesNotThrow(() => JSON.parse(line));
    });
  });

  test('ids are task text: history prints them without a control character', async () => {
    await withTempFolder('histf', async (t) => {
      stateDir(t);
      const evil = { ...runAt(Date.now() - HOUR, 1), id: 'X\u001b[2J\u009b31m\nfailed FAKE', host: 'h\u202e' };
      fs.writeFileSync(runtimeFile(t.dir, t.owner, 'runs.jsonl'), `${JSON.stringify(evil)}\n`);
      const r = await cli(['history', `owner=${t.owner}`, `dir=${t.dir}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /[\u001b\u009b\u202e]/);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 2, r.stdout);
      assert.match(lines[0] as string, /"X\\u001b\[2J\\u009b31m\\nfailed FAKE"  success/);
    });
  });

  test('a link in place of a history file is never followed: not read, nothing written through it', async () => {
    await withTempFolder('histf', async (t) => {
      stateDir(t);
      const outside = path.join(t.root, 'outside.jsonl');
      const content = `${JSON.stringify(tickAt(Date.now() - HOUR, 99))}\n`;
      fs.writeFileSync(outside, content);
      const ticks = runtimeFile(t.dir, t.owner, 'ticks.jsonl');
      const runs = runtimeFile(t.dir, t.owner, 'runs.jsonl');
      fs.symlinkSync(outside, ticks);
      fs.symlinkSync(outside, runs);
      assert.deepEqual(await history(t), { runs: [], ticks: [] });
      await once(t);
      assert.equal(fs.readFileSync(outside, 'utf8'), content);
      assert.ok(fs.lstatSync(ticks).isFile(), 'the link was replaced by a file of our own');
      const after = await history(t);
      assert.equal(after.ticks.length, 1);
      assert.notEqual(after.ticks[0]?.counts.total, 99);
    });
  });

  test('a history file that cannot be written costs its records and one log line, never a tick', async () => {
    await withTempFolder('histf', async (t) => {
      stateDir(t);
      // A folder where the ticks file goes: every append fails, as on a full disk.
      fs.mkdirSync(runtimeFile(t.dir, t.owner, 'ticks.jsonl'));
      const r = await cli(['ensure', `owner=${t.owner}`, `dir=${t.dir}`, 'interval=0.1', 'worktrees=off', 'dispatch=true']);
      assert.equal(r.code, 0, r.stderr);
      const snap = runtimeFile(t.dir, t.owner, 'snapshot.json');
      const tickOf = (): number => { try { return (JSON.parse(fs.readFileSync(snap, 'utf8')) as { tick: number }).tick; } catch { return 0; } };
      await waitUntil(() => tickOf() >= 10, () => `ten ticks; at ${tickOf()}`);
      assert.equal((await cli(['stop', `owner=${t.owner}`, `dir=${t.dir}`])).code, 0);
      const log = fs.readFileSync(runtimeFile(t.dir, t.owner, 'heartbeat.log'), 'utf8');
      const lines = log.split('\n').filter((l) => l.includes('history:'));
      assert.equal(lines.length, 1, log);
      assert.match(lines[0] as string, /history: writing failed, records are dropped until it works: .*ticks\.jsonl is a folder/);
      // The run file works: its one run is written once, however many tick records failed after it.
      const runs = fs.readFileSync(runtimeFile(t.dir, t.owner, 'runs.jsonl'), 'utf8').trim().split('\n');
      assert.equal(runs.length, 1, runs.join('\n'));
      assert.equal((JSON.parse(runs[0] as string) as RunRecord).id, 'FIRST-TASK');
    });
  });

  test('old ticks are downsampled and runs capped: the files stay bounded', async () => {
    await withTempFolder('histf', async (t) => {
      stateDir(t);
      const now = Date.now();
      // Ten days of 30 s ticks and more runs than are kept, written as a heartbeat would have.
      const tickLines: string[] = [];
      for (let at = now - 10 * DAY; at < now - 60_000; at += 30_000) tickLines.push(JSON.stringify(tickAt(at)));
      const runLines: string[] = [];
      for (let i = 0; i < RUNS_MAX + 500; i++) runLines.push(JSON.stringify(runAt(now - 9 * DAY + i * 60_000, i)));
      const ticks = runtimeFile(t.dir, t.owner, 'ticks.jsonl');
      const runs = runtimeFile(t.dir, t.owner, 'runs.jsonl');
      fs.writeFileSync(ticks, tickLines.join('\n') + '\n');
      fs.writeFileSync(runs, runLines.join('\n') + '\n');
      const bytesBefore = fs.statSync(ticks).size;
      await once(t);
      const doc = await history(t);
      // A day raw (2,880), 5-minute buckets to a week (6 x 288), hourly beyond (3 x 24), give or take the edges and the new tick.
      assert.ok(doc.ticks.length > 2880 + 1728 + 60 && doc.ticks.length < 2880 + 1728 + 90, `${doc.ticks.length} tick records`);
      assert.ok(fs.statSync(ticks).size < bytesBefore / 5, `${fs.statSync(ticks).size} bytes of ticks, from ${bytesBefore}`);
      // Every tick is still counted once.
      assert.equal(doc.ticks.reduce((n, x) => n + (x.n ?? 1), 0), tickLines.length + 1);
      const hourly = doc.ticks.filter((x) => now - Date.parse(x.at) > 7 * DAY + HOUR);
      assert.ok(hourly.every((x) => x.n === 120 || Date.parse(x.at) < now - 10 * DAY + HOUR), 'hourly records of 120 ticks');
      assert.equal(doc.runs.length, RUNS_MAX);
      assert.equal(doc.runs[0]?.id, 'T-500');
    });
  });

  test('downsampling is stable: compacting again changes nothing, and every tick stays counted', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const raw: TickRecord[] = [];
    for (let at = now - 30 * DAY; at <= now; at += 30_000) raw.push(tickAt(at, Math.floor((now - at) / DAY)));
    const once = compactTicks(raw, new Date(now));
    assert.deepEqual(compactTicks(once, new Date(now)), once);
    assert.equal(once.reduce((n, x) => n + (x.n ?? 1), 0), raw.length);
    // A merged record keeps its last tick's figures and time.
    const old = once[0] as TickRecord;
    assert.equal(old.n, 120);
    assert.equal(old.at, new Date(now - 30 * DAY + 119 * 30_000).toISOString());
    // A day later the raw ticks of that day are merged too, and the result is what compacting the raw ticks then gives.
    const later = new Date(now + DAY);
    assert.deepEqual(compactTicks(once, later), compactTicks(raw, later));
    // Older than a year: dropped.
    assert.deepEqual(compactTicks([tickAt(now - 367 * DAY)], new Date(now)), []);
  });
  test('a status named __proto__ or constructor is counted as itself when a tick line is read back', () => {
    const line = JSON.stringify({ at: '2026-12-07T06:00:00.000Z', counts: JSON.parse('{"__proto__": 2, "constructor": 3, "ready": 1}'), ready: 1, running: 0, escalations: 0 });
    const t = parseTick(line) as TickRecord;
    assert.deepEqual(Object.entries(t.counts), [['__proto__', 2], ['constructor', 3], ['ready', 1]]);
    assert.equal(Object.getPrototypeOf(t.counts), Object.prototype);
  });
});
