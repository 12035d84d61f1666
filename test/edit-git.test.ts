// An edit in a repository where no heartbeat has run yet: git status shows the task file and nothing else.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli, commitAll, makeRepo, withTempFolder } from './helpers.ts';

test('set and note in a fresh repository: the runtime folder they make is git-ignored, only the task file shows as changed', async () => {
  await withTempFolder('editgit', async (t) => {
    fs.writeFileSync(path.join(t.dir, 'a1.md'), '---\nid: A1\ntitle: a\nstatus: ready\n---\nbody\n');
    makeRepo(t.root, '');
    commitAll(t.root, 'tasks');
    for (const args of [['set', 'id=A1', 'status=in_progress'], ['note', 'id=A1', 'text=started']]) {
      const r = await cli([...args, `dir=${t.dir}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: t.root, encoding: 'utf8', timeout: 10_000 });
    assert.deepEqual(status.trimEnd().split('\n'), [` M ${path.relative(t.root, path.join(t.dir, 'a1.md'))}`], status);
  });
});
