// Attacks on the edit core (issue 18) that currently succeed: each test says what must hold and fails until it does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from './helpers.ts';

function temp(): { root: string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-attack-edit-'));
  return { root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

test('removing one key from a flow-map frontmatter removes that key only, never the whole frontmatter (id, title, status)', async () => {
  const t = temp();
  try {
    const file = path.join(t.root, 'a.md');
    fs.writeFileSync(file, '---\n{id: a, title: A, status: todo, x: 1}\n---\nbody\n');
    const r = await cli(['set', `dir=${t.root}`, 'id=a', 'field.x=']);
    const after = fs.readFileSync(file, 'utf8');
    // Either the key goes and the others stay, or the edit is refused and nothing is written.
    if (r.code === 0) assert.match(after, /id: a/, `the edit wiped the frontmatter: ${JSON.stringify(after)}`);
    else assert.equal(after, '---\n{id: a, title: A, status: todo, x: 1}\n---\nbody\n');
  } finally {
    t.remove();
  }
});

test('`new` never writes through a symbolic link out of the tasks folder (Backlog.md tasks/ linked elsewhere)', async () => {
  const t = temp();
  try {
    const backlog = path.join(t.root, 'repo', 'backlog');
    const outside = path.join(t.root, 'outside');
    fs.mkdirSync(backlog, { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(backlog, 'config.yml'), 'project_name: x\ntask_prefix: task\n');
    fs.symlinkSync(outside, path.join(backlog, 'tasks'));
    const r = await cli(['new', `dir=${backlog}`, 'title=escape']);
    assert.deepEqual(fs.readdirSync(outside), [], `new wrote outside the folder (exit ${r.code}): ${r.stdout}${r.stderr}`);
    assert.notEqual(r.code, 0, 'refused with one line');
  } finally {
    t.remove();
  }
});
