import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normaliseStatus, parseTaskFile } from '../lib/tasks/taskfile.ts';
import type { Task } from '../lib/tasks/taskfile.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'taskfiles');
const fixture = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, name));

const FULL_SECTIONS = ['Problem', 'Context', 'Possible Solutions', 'Plan', 'Implementation Progress',
  'QA Exploration', 'Review Feedback'];

const FULL: Partial<Task> = {
  id: 'INFRA_TOOLING-ADD_JUST_TASKS_SERVE_COMPOSE',
  slug: 'full',
  title: 'Add just tasks serve composing heartbeat loop and plans server',
  status: 'completed',
  statusKnown: true,
  priority: 'p2',
  milestone: 'm1-ft-analytics-analyst-pilot',
  owner: 'sr-engineer-architect',
  completedBy: 'dave',
  completed: '2026-03-22',
  dependsOn: ['OTHER-TASK-ID'],
  pr: 'https://github.com/example/repo/pull/123',
  ci: 'passing',
  progress: { done: 2, total: 3 },
};

const utf8 = (name: string, transform: (text: string) => string): Buffer =>
  Buffer.from(transform(fixture(name).toString('utf8')), 'utf8');

interface Row {
  name: string;
  file: string;
  content?: Buffer;
  expect?: Partial<Task> & { sectionTitles?: string[]; bodyStartsWith?: string };
  error?: string;
}

const ROWS: Row[] = [
  { name: 'full task (every documented field)', file: 'full.md', expect: { ...FULL, path: 'full.md', sectionTitles: FULL_SECTIONS } },
  { name: 'CRLF line endings', file: 'full.md', content: utf8('full.md', (t) => t.replace(/\n/g, '\r\n')),
    expect: { ...FULL, sectionTitles: FULL_SECTIONS, bodyStartsWith: '## Problem\n\nOperators' } },
  { name: 'UTF-8 BOM', file: 'full.md', content: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixture('full.md')]),
    expect: { ...FULL, sectionTitles: FULL_SECTIONS } },
  { name: 'BOM and CRLF together', file: 'full.md',
    content: Buffer.from('\ufeff' + fixture('full.md').toString('utf8').replace(/\n/g, '\r\n'), 'utf8'),
    expect: { ...FULL, sectionTitles: FULL_SECTIONS } },
  { name: 'nested path keeps / separators', file: 'area/sub/full.md', content: fixture('full.md'),
    expect: { slug: 'full', path: 'area/sub/full.md' } },
  { name: 'backslash path is normalised', file: 'area\\full.md', content: fixture('full.md'),
    expect: { slug: 'full', path: 'area/full.md' } },
  { name: 'assignee and dependencies aliases', file: 'aliases.md',
    expect: { owner: 'carol', dependsOn: ['DEP-ONE', '0042'], status: 'todo' } },
  { name: 'owner and depends_on win over their aliases', file: 'owner-wins.md', expect: { owner: 'alice', dependsOn: ['A'] } },
  { name: 'unknown fields kept as text', file: 'unknown-fields.md', expect: { fields: {
    id: 'UNKNOWN-FIELDS', status: 'ready', estimate: '3', labels: ['infra', 'tooling'],
    review: { by: 'erin', round: '2' }, flag: 'true', empty_field: null, quoted: '  spaced  ' } } },
  { name: 'dates, ids and numbers stay text', file: 'text-values.md', expect: {
    id: '0012', title: '2026', priority: '1', completed: '2026-03-22', milestone: '1.10', dependsOn: ['0007', '1e3'],
    status: 'review' } },
  { name: 'timestamps stay text in fields', file: 'text-values.md',
    expect: { fields: { id: '0012', title: '2026', status: 'review', priority: '1', completed: '2026-03-22',
      started_at: '2026-03-22T10:00:00Z', depends_on: ['0007', '1e3'], milestone: '1.10' } } },
  { name: 'depends_on as a comma-separated string', file: 'depends-comma.md', expect: { dependsOn: ['A-ONE', 'B-TWO', 'C-THREE'] } },
  { name: 'empty depends_on', file: 'depends-empty.md', expect: { dependsOn: [] } },
  { name: 'checkbox progress (-, *, +, ordered, x/X; not in code fences)', file: 'checkboxes.md',
    expect: { progress: { done: 4, total: 7 }, sectionTitles: ['Plan'] } },
  { name: 'sections with their text', file: 'sections.md', expect: { title: 'Big Title', sections: [
    { title: 'Problem', level: 2, text: 'The problem.' },
    { title: 'Plan', level: 2, text: 'Steps:\n\n### Step one\n\nDo it.' },
    { title: 'Step one', level: 3, text: 'Do it.' },
    { title: 'Review Feedback', level: 2, text: 'Fine.' },
  ] } },
  { name: 'title from the first # heading', file: 'title-heading.md', expect: { title: 'Title From Heading' } },
  { name: 'title falls back to the slug', file: 'title-slug.md', expect: { title: 'title-slug' } },
  { name: 'id falls back to the slug', file: 'no-id.md', expect: { id: 'no-id', title: 'Has no id' } },
  { name: 'missing status is draft', file: 'missing-status.md', expect: { status: 'draft', statusKnown: true } },
  { name: 'unknown status kept folded', file: 'unknown-status.md', expect: { status: 'on_hold', statusKnown: false } },
  { name: 'P0 lowercased, ci case-insensitive', file: 'priority-ci.md',
    expect: { priority: 'p0', ci: 'failing', pr: 'https://github.com/example/repo/pull/7' } },
  { name: 'a known priority word lowercased, unknown ci', file: 'priority-raw.md', expect: { priority: 'high', ci: 'unknown', pr: null } },
  { name: 'empty frontmatter is a task with defaults', file: 'empty-frontmatter.md',
    expect: { id: 'empty-frontmatter', title: 'Only a body', status: 'draft', fields: {} } },

  { name: 'empty file', file: 'empty.md', error: 'empty file' },
  { name: 'whitespace-only file', file: 'blank.md', error: 'empty file' },
  { name: 'binary (NUL bytes)', file: 'logo.md', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]),
    error: 'not a UTF-8 text file' },
  { name: 'UTF-16 file', file: 'utf16.md', content: Buffer.from('\ufeff---\nid: A\n---\n', 'utf16le'), error: 'not a UTF-8 text file' },
  { name: 'invalid UTF-8 (Latin-1)', file: 'latin1.md', content: Buffer.from('---\nid: CAF\xe9\n---\n', 'latin1'),
    error: 'not a UTF-8 text file' },
  { name: 'no frontmatter', file: 'no-frontmatter.md', error: 'no frontmatter: the file must start with ---' },
  { name: 'unclosed fence', file: 'unclosed.md', error: 'frontmatter is not closed by ---' },
  { name: 'bad YAML names the file line', file: 'bad-yaml.md',
    error: 'invalid YAML in frontmatter at line 4: Flow sequence in block collection must be sufficiently indented' },
  { name: 'unquoted colon in a value', file: 'title-colon.md', error: 'invalid YAML in frontmatter at line 3: Nested mappings' },
  { name: 'duplicate key', file: 'duplicate-key.md', error: 'invalid YAML in frontmatter at line 4: Map keys must be unique' },
  { name: 'list frontmatter', file: 'list-frontmatter.md', error: 'frontmatter is not a key: value mapping' },
  { name: 'scalar frontmatter', file: 'scalar-frontmatter.md', error: 'frontmatter is not a key: value mapping' },
  { name: 'id that is a list', file: 'id-list.md', error: '`id` must be a single value, got a list' },
  { name: 'id that is a mapping', file: 'id-map.md', error: '`id` must be a single value, got a mapping' },
  { name: 'status that is a list', file: 'status-list.md', error: '`status` must be a single value, got a list' },
  { name: 'self-referencing alias', file: 'alias-loop.md', error: 'nested too deeply' },
  { name: 'alias expansion bomb', file: 'bomb.md', content: Buffer.from(aliasBomb()), error: 'too large' },
  // A shared registry stores ids as text: a NUL or a lone surrogate would fail every host's tick.
  { name: 'id with a NUL', file: 'nul-id.md', content: Buffer.from('---\nid: "x\\0y"\ntitle: t\nstatus: ready\n---\n'), error: 'id holds a NUL or an unpaired surrogate' },
  { name: 'id with a lone surrogate', file: 'surrogate-id.md', content: Buffer.from('---\nid: "x\\ud800y"\ntitle: t\nstatus: ready\n---\n'), error: 'id holds a NUL or an unpaired surrogate' },
];

for (const row of ROWS) {
  test(`parseTaskFile: ${row.name}`, () => {
    const result = parseTaskFile(row.content ?? fixture(row.file), row.file);
    if (row.error !== undefined) {
      assert.equal(result.ok, false, `expected a parse error, got ${JSON.stringify(result)}`);
      if (result.ok) return;
      assert.equal(result.path, row.file.replace(/\\/g, '/'));
      assert.ok(result.reason.includes(row.error), `reason ${JSON.stringify(result.reason)} lacks ${JSON.stringify(row.error)}`);
      assert.ok(!result.reason.includes('\n'), 'reason is one line');
      return;
    }
    assert.ok(result.ok, `expected a task, got ${JSON.stringify(result)}`);
    const { sectionTitles, bodyStartsWith, ...fields } = row.expect ?? {};
    for (const [key, want] of Object.entries(fields)) {
      assert.deepEqual(result.task[key as keyof Task], want, `field ${key}`);
    }
    if (sectionTitles !== undefined) assert.deepEqual(result.task.sections.map((s) => s.title), sectionTitles);
    if (bodyStartsWith !== undefined) assert.ok(result.task.body.startsWith(bodyStartsWith), JSON.stringify(result.task.body.slice(0, 40)));
  });
}

const STATUS_SPELLINGS: [string, string, boolean][] = [
  ['draft', 'draft', true], ['Draft', 'draft', true],
  ['todo', 'todo', true], ['To Do', 'todo', true], ['TODO', 'todo', true], ['to-do', 'todo', true],
  ['ready', 'ready', true], ['READY', 'ready', true],
  ['in_progress', 'in_progress', true], ['In Progress', 'in_progress', true], ['in-progress', 'in_progress', true],
  ['  in   progress ', 'in_progress', true], ['wip', 'in_progress', true], ['WIP', 'in_progress', true], ['doing', 'in_progress', true],
  ['blocked', 'blocked', true], ['Blocked', 'blocked', true],
  ['review', 'review', true], ['In Review', 'review', true], ['in-review', 'review', true],
  ['completed', 'completed', true], ['Done', 'completed', true], ['complete', 'completed', true], ['COMPLETED', 'completed', true],
  ['cancelled', 'cancelled', true], ['canceled', 'cancelled', true], ['Cancelled', 'cancelled', true],
  ['On Hold', 'on_hold', false], ['someday-maybe', 'someday_maybe', false],
];

for (const [raw, status, known] of STATUS_SPELLINGS) {
  test(`status ${JSON.stringify(raw)} → ${status}`, () => {
    assert.deepEqual(normaliseStatus(raw), { status, known });
    const result = parseTaskFile(Buffer.from(`---\nid: S\nstatus: ${JSON.stringify(raw)}\n---\n`), 's.md');
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.task.status, status);
    assert.equal(result.task.statusKnown, known);
  });
}

test('parseTaskFile never throws on random bytes', () => {
  let seed = 42;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pieces = ['---\n', 'id: ', '[', ']', '{', '}', ': ', '&a ', '*a ', '\n', '- ', '"', "'", '#', '\r', '\ufeff', 'é', '!!int '];
  for (let i = 0; i < 500; i++) {
    let text = '---\n';
    for (let j = 0; j < 30; j++) text += pieces[Math.floor(random() * pieces.length)] ?? '';
    const result = parseTaskFile(Buffer.from(text), 'fuzz.md');
    assert.equal(typeof result.ok, 'boolean');
    if (!result.ok) assert.ok(result.reason.length > 0 && !result.reason.includes('\n'), JSON.stringify(result.reason));
  }
});

/** Nine levels of nine aliases each: a billion-laughs document in a few hundred bytes. */
function aliasBomb(): string {
  const lines = ['---', 'a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  lines.push('---', '');
  return lines.join('\n');
}
