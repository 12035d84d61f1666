// Edits that cannot be made safely are refused with one line and write nothing; a stale version is a conflict, never an overwrite.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli } from './helpers.ts';

const GOOD = '---\nid: GOOD\ntitle: Good\nstatus: ready\n---\n## Plan\n\n- [ ] one\n';

function folder(): { dir: string; remove: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-edit-refuse-'));
  fs.writeFileSync(path.join(root, 'GOOD.md'), GOOD);
  fs.writeFileSync(path.join(root, 'NOFM.md'), '# Just a heading\n\nstatus: ready\n');
  fs.writeFileSync(path.join(root, 'BADYAML.md'), '---\nid: BADYAML\ntitle: [unclosed\nstatus: ready\n---\n');
  fs.writeFileSync(path.join(root, 'outside.md'), '---\nid: OUTSIDE\ntitle: Outside\nstatus: ready\n---\n');
  fs.mkdirSync(path.join(root, 'sub'));
  fs.symlinkSync(path.join(root, 'outside.md'), path.join(root, 'sub', 'LINKED.md'));
  return { dir: root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** Every file's bytes under the folder: a refused edit changes none of them. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (fs.lstatSync(p).isFile()) out[name] = fs.readFileSync(p, 'latin1');
  }
  return out;
}

test('no frontmatter, bad YAML, a symlinked task file, an unknown id, an unknown status: one line each, the right exit code, nothing written', async () => {
  const f = folder();
  try {
    const before = snapshot(f.dir);
    const cases: [string[], number, RegExp][] = [
      [['set', 'id=NOFM', 'status=done'], 1, /NOFM\.md cannot be edited: no frontmatter/],
      [['note', 'id=BADYAML', 'text=x'], 1, /BADYAML\.md cannot be edited: invalid YAML/],
      [['set', 'id=LINKED', 'status=done'], 1, /sub\/LINKED\.md is a symbolic link/],
      [['set', 'id=NOPE', 'status=done'], 2, /unknown task `NOPE`/],
      [['set', 'id=GOOD', 'status=finished-ish'], 2, /unknown status `finished-ish`/],
      [['check', 'id=GOOD', 'item=5'], 1, /item 5 is not a checkbox of the plan, which has 1 checkbox/],
      [['set', 'id=GOOD', 'field.id=X'], 2, /`field.id` cannot be set/],
      [['set', 'id=GOOD', 'bogus=1'], 2, /unknown key `bogus`/],
      [['set', 'id=GOOD'], 2, /`set` needs something to set/],
      [['note', 'id=GOOD', 'status=done', 'text=x'], 2, /key `status` does not apply to `note`/],
      [['set', 'id=GOOD', 'status=done', 'version=abc'], 2, /`version` must be the 16 hex digits/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli([...args, `dir=${f.dir}`]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(snapshot(f.dir), before, 'nothing written');
  } finally {
    f.remove();
  }
});

test('a stale version= is a conflict naming what changed and the current version; an editor\'s save between read and update wins', async () => {
  const f = folder();
  const file = path.join(f.dir, 'GOOD.md');
  try {
    const first = await cli(['set', `dir=${f.dir}`, 'id=GOOD', 'status=in_progress', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const read = (JSON.parse(first.stdout) as { version: string }).version;
    // Another agent moves it on: the version the first one holds is now stale.
    const second = await cli(['set', `dir=${f.dir}`, 'id=GOOD', 'status=review', `version=${read}`, '--json']);
    assert.equal(second.code, 0, second.stderr);
    const now = (JSON.parse(second.stdout) as { version: string }).version;
    const afterSecond = fs.readFileSync(file, 'utf8');
    const stale = await cli(['note', `dir=${f.dir}`, 'id=GOOD', 'text=late', `version=${read}`]);
    assert.equal(stale.code, 1, stale.stderr);
    assert.match(stale.stderr, new RegExp(`GOOD changed since version ${read} \\(status: in_progress → review\\); it is now version ${now}`));
    assert.equal(stale.stderr.trim().split('\n').length, 1);
    assert.equal(fs.readFileSync(file, 'utf8'), afterSecond, 'unchanged');

    // A person saves from an editor (no lock, no version) after the agent read `now`.
    const edited = afterSecond.replace('- [ ] one', '- [ ] one\n- [ ] two, added by hand');
    fs.writeFileSync(file, edited);
    const agent = await cli(['check', `dir=${f.dir}`, 'id=GOOD', 'item=1', `version=${now}`]);
    assert.equal(agent.code, 1, agent.stderr);
    assert.match(agent.stderr, /changed since version .* \(body\); it is now version [0-9a-f]{16}/);
    assert.equal(fs.readFileSync(file, 'utf8'), edited, 'the person\'s edit stands');
  } finally {
    f.remove();
  }
});

test('the file keeps its mode, and no temp file is left behind', async () => {
  const f = folder();
  const file = path.join(f.dir, 'GOOD.md');
  try {
    fs.chmodSync(file, 0o640);
    const r = await cli(['set', `dir=${f.dir}`, 'id=GOOD', 'status=done']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(fs.readdirSync(f.dir).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    f.remove();
  }
});
