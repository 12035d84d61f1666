import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';
import { SiteBuilder, type SiteInput } from '../lib/web/site/site.ts';
import type { WebSnapshot } from '../lib/web/render/snapshot-read.ts';

const NOW = new Date('2026-03-22T12:00:00Z');
const STATUSES = ['draft', 'todo', 'ready', 'In Progress', 'blocked', 'review', 'completed', 'cancelled'];

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Spec { file: string; id: string; title: string; status: string; priority: string; deps: string[]; parent: string | null; due: string | null; labels: string[]; body: string }

function parsed(s: Spec): Task {
  const lines = [`id: ${s.id}`, `title: ${s.title}`, `status: ${s.status}`, `priority: ${s.priority}`, `depends_on: [${s.deps.join(', ')}]`];
  if (s.parent !== null) lines.push(`parent: ${s.parent}`);
  if (s.due !== null) lines.push(`due: ${s.due}`);
  if (s.labels.length) lines.push(`labels: [${s.labels.join(', ')}]`);
  const r = parseTaskFile(Buffer.from(`---\n${lines.join('\n')}\n---\n${s.body}\n`), s.file);
  assert.ok(r.ok, `fixture ${s.file} must parse`);
  return r.task;
}

/** Every file of a folder (relative path → bytes). */
function folder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, rel);
    if (fs.statSync(file).isFile()) files.set(rel, fs.readFileSync(file));
  }
  return files;
}

function assertSameFolder(got: string, want: string, step: string): void {
  const a = folder(got);
  const b = folder(want);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${step}: the same files`);
  for (const [rel, bytes] of b) assert.ok(a.get(rel)?.equals(bytes), `${step}: ${rel} is byte-identical to a fresh build's`);
}

/**
 * Random edits, one to a few per build, of the kinds an operator makes: titles, statuses (draft
 * included, which changes how references resolve), dependencies, parents, due days, labels, bodies,
 * added, removed and archived tasks, and the snapshot's claims, escalations, holds and CI.
 */
function edit(rnd: () => number, specs: Spec[], next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const any = (): Spec => pick(specs);
  const idOf = (): string => (rnd() < 0.1 ? 'MISSING-1' : any().id);
  const kind = pick(['title', 'title', 'status', 'status', 'deps', 'parent', 'due', 'labels', 'body', 'add', 'remove', 'archive', 'snapshot']);
  const s = any();
  switch (kind) {
    case 'title': s.title = `Title ${Math.floor(rnd() * 1000)}`; break;
    case 'status': s.status = pick(STATUSES); break;
    case 'deps': s.deps = rnd() < 0.3 ? [] : [idOf(), ...(rnd() < 0.3 ? [idOf()] : [])]; break;
    case 'parent': s.parent = rnd() < 0.3 ? null : idOf(); break;
    case 'due': s.due = rnd() < 0.5 ? null : pick(['2026-03-01', '2026-04-01', '2026-03-22']); break;
    case 'labels': s.labels = rnd() < 0.5 ? [] : [pick(['web', 'api', 'Web', 'ops'])]; break;
    case 'body': s.body = `Body ${Math.floor(rnd() * 1000)} zebra`; break;
    case 'add': {
      const n = next();
      specs.splice(Math.floor(rnd() * (specs.length + 1)), 0, { file: `T-${n}.md`, id: rnd() < 0.1 ? s.id : `T-${n}`, title: `New ${n}`, status: pick(STATUSES), priority: 'p2', deps: [], parent: null, due: null, labels: [], body: 'new' });
      break;
    }
    case 'remove': if (specs.length > 3) specs.splice(specs.indexOf(s), 1); break;
    case 'archive': s.file = s.file.startsWith('archive/') ? s.file.slice(8) : `archive/${s.file}`; break;
  }
  return kind;
}

function snapshotOf(rnd: () => number, specs: readonly Spec[]): WebSnapshot | undefined {
  if (rnd() < 0.2) return undefined;
  const ids = specs.filter(() => rnd() < 0.15).map((s) => s.id);
  const at = '2026-03-22T11:00:00Z';
  const snapshot = {
    owner: 'dave', pid: 1, dir: '/x', tick: 1, tickAt: at, nextTickAt: at, interval: 60, tickDurationMs: 1, taskCount: specs.length, counts: {}, errors: [],
    claims: ids.slice(0, 2).map((id) => ({ id, slug: id, path: `${id}.md`, claimedBy: 'dave', claimedAt: at, startedAt: at, worktree: `/repo/.worktrees/${id}`, pid: 7, pidStart: null,
      state: 'running', exitCode: null, endedAt: null, log: `/repo/runs/${id}.log`, owner: 'dave', ageS: Math.floor(rnd() * 100), worktreeExists: rnd() < 0.5, pr: null, ci: 'unknown' })),
    escalations: ids.slice(2, 4).map((id) => ({ id, reason: `stuck ${Math.floor(rnd() * 3)}`, since: at })),
    ready: [], holds: Object.fromEntries(ids.slice(4, 5).map((id) => [id, { since: at, by: 'erin' }])),
    ci: Object.fromEntries(ids.slice(5).map((id) => [id, { state: rnd() < 0.5 ? 'passing' : 'failing' }])),
  };
  return snapshot as unknown as WebSnapshot;
}

test('random edits rebuilt incrementally (deferred or not) give byte-identical folders to a fresh build of the same input', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-incr-'));
  try {
    for (const seed of [1, 2, 3]) {
      const rnd = random(seed);
      let counter = 0;
      const specs: Spec[] = [];
      for (let i = 0; i < 30; i++) {
        specs.push({ file: `T-${i}.md`, id: `T-${i}`, title: `Task ${i}`, status: STATUSES[i % STATUSES.length] as string, priority: `p${i % 4}`,
          deps: i > 2 && i % 3 === 0 ? [`T-${i - 2}`] : [], parent: i > 5 && i % 5 === 0 ? `T-${i - 4}` : null, due: i % 7 === 0 ? '2026-03-01' : null, labels: [], body: `Body ${i}` });
        counter = i + 1;
      }
      // Objects of unchanged specs are kept, as TaskScanner keeps unchanged tasks' objects.
      const cache = new Map<string, Task>();
      const tasksOf = (): Task[] => specs.map((s) => {
        const key = JSON.stringify(s);
        let t = cache.get(key);
        if (t === undefined) cache.set(key, (t = parsed(s)));
        return t;
      });
      const out = path.join(root, `incr-${seed}`);
      const builder = new SiteBuilder(out, { versions: true });
      let snapshot: WebSnapshot | undefined;
      const input = (): SiteInput => ({ project: 'Acme', tasks: tasksOf(), errors: [], snapshot, heartbeat: { running: false, pid: null }, now: NOW });
      builder.build(input());
      for (let step = 0; step < 60; step++) {
        const kinds: string[] = [];
        const edits = rnd() < 0.7 ? 1 : 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < edits; k++) {
          const kind = edit(rnd, specs, () => counter++);
          if (kind === 'snapshot') snapshot = snapshotOf(rnd, specs);
          kinds.push(kind);
        }
        const defer = rnd() < 0.3;
        builder.build(input(), { deferPages: defer });
        if (defer) builder.renderPending(Infinity);
        const fresh = path.join(root, `fresh-${seed}-${step}`);
        new SiteBuilder(fresh, { versions: true }).build(input());
        assertSameFolder(out, fresh, `seed ${seed} step ${step} (${kinds.join(', ')}${defer ? ', deferred' : ''})`);
        fs.rmSync(fresh, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
