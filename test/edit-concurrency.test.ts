// No lost update: many writers at once to one task file, each update applied or refused with a conflict, every applied note in the file; `new` never reuses an id.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from './helpers.ts';
import { cliWriter, hammer } from './edit-writers.ts';

test('4 processes x 25 notes to one file through the CLI at once: each applied or a conflict, none lost', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-edit-conc-'));
  const file = path.join(dir, 'HOT.md');
  fs.writeFileSync(file, '---\nid: HOT\ntitle: Hot\nstatus: in_progress\n---\n## Implementation Progress\n\n- started\n');
  try {
    const { applied, refused } = await hammer(dir, 'HOT', [cliWriter, cliWriter, cliWriter, cliWriter], 25);
    assert.equal(applied.length + refused.length, 100);
    const text = fs.readFileSync(file, 'utf8');
    const notes = text.split('\n').filter((l) => /^- \d{4}-\d\d-\d\d \d\d:\d\d cli-lane\d-n\d+$/.test(l));
    assert.equal(notes.length, applied.length, `every applied note is in the file (${refused.length} refused)`);
    for (const t of applied) assert.ok(notes.some((l) => l.endsWith(` ${t}`)), `note ${t} lost`);
    for (const t of refused) assert.ok(!notes.some((l) => l.endsWith(` ${t}`)), `refused note ${t} written`);
    assert.ok(applied.length >= 50, 'the lanes without a version all applied');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('4 processes creating tasks at once never reuse an id (Backlog.md numbers, our slugs)', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-edit-new-'));
  const backlog = path.join(root, 'backlog');
  const ours = path.join(root, 'ours');
  fs.mkdirSync(path.join(backlog, 'tasks'), { recursive: true });
  fs.mkdirSync(ours);
  fs.writeFileSync(path.join(backlog, 'config.yml'), 'project_name: X\nstatuses: ["To Do", "In Progress", "Done"]\n');
  fs.writeFileSync(path.join(backlog, 'tasks', 'task-2 - Two.md'), '---\nid: TASK-2\ntitle: Two\nstatus: To Do\n---\n');
  try {
    for (const [dir, title] of [[backlog, 'Same title'], [ours, 'Same title']] as const) {
      const ids = (await Promise.all([0, 1, 2, 3].map(async () => {
        const got: string[] = [];
        for (let i = 0; i < 2; i++) {
          const r = await cli(['new', `dir=${dir}`, `title=${title}`, '--json'], { timeoutMs: 60_000 });
          assert.equal(r.code, 0, r.stderr);
          got.push((JSON.parse(r.stdout) as { id: string }).id);
        }
        return got;
      }))).flat();
      assert.equal(new Set(ids).size, 8, `ids repeat: ${ids.join(' ')}`);
      if (dir === backlog) assert.deepEqual([...ids].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))), Array.from({ length: 8 }, (_, i) => `TASK-${i + 3}`));
      else assert.ok(ids.includes('same-title') && ids.includes('same-title-8'), ids.join(' '));
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
