// A mistyped status is bad input like a mistyped key: the README gives `set` exit 2 for usage errors and
// exit 1 only for a conflict or a file that cannot be edited safely, so a script can tell them apart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli, withTempFolder } from './helpers.ts';

test('set with a status the folder does not know: exit 2, one line naming the value, the file untouched', async () => {
  await withTempFolder('nu-edit', async (t) => {
    const file = path.join(t.dir, 'FIRST-TASK.md');
    const before = fs.readFileSync(file);
    const r = await cli(['set', 'id=FIRST-TASK', 'status=inprogres', `dir=${t.dir}`]);
    assert.equal(r.code, 2, `exit ${r.code}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /inprogres/);
    assert.deepEqual(fs.readFileSync(file), before);
  });
});
