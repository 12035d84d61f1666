// The hand-written frontmatter reader against the yaml library: on every fixture and on thousands of
// generated frontmatters it declines or returns exactly what the yaml path returns, and the files
// the generators write (Backlog.md's and ours) do take it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateBacklogTasks } from '../bench/generate-backlog.ts';
import { generateTasks } from '../bench/generate.ts';
import { fastFields } from '../lib/tasks/frontmatter-fast.ts';
import { type Split, frontmatterReader, splitFile } from '../lib/tasks/frontmatter.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** splitFile with the fast reader on and off. */
function both(content: Buffer): { fast: Split; slow: Split } {
  frontmatterReader.fast = false;
  try {
    const slow = splitFile(content);
    frontmatterReader.fast = true;
    return { fast: splitFile(content), slow };
  } finally {
    frontmatterReader.fast = true;
  }
}

/** A file's frontmatter and body as splitFile found them before it searched instead of splitting into lines (BOM dropped, CRLF as LF), or why there are none. */
function referenceSplit(content: Buffer): { source: string; body: string } | 'none' | 'open' {
  const lines = content.toString('utf8').replace(/^\ufeff/, '').replace(/\r\n?/g, '\n').split('\n');
  if (!/^---[ \t]*$/.test(lines[0] ?? '')) return 'none';
  const close = lines.findIndex((line, i) => i > 0 && /^---[ \t]*$/.test(line));
  return close < 0 ? 'open' : { source: lines.slice(1, close).join('\n'), body: lines.slice(close + 1).join('\n') };
}

/** The frontmatter source of a file, or undefined. */
function sourceOf(content: Buffer): string | undefined {
  const split = referenceSplit(content);
  return typeof split === 'string' ? undefined : split.source;
}

/** The body splitFile found, or why there is none, in referenceSplit's terms. */
function bodyOf(split: Split): string {
  if (split.ok) return split.body;
  if (split.bare === true) return split.reason === 'empty file' ? 'empty' : 'none';
  if (split.reason === 'frontmatter is not closed by ---') return 'open';
  return split.text ?? `unreadable: ${split.reason}`;
}

function mdFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.md'))
    .map((d) => path.join(d.parentPath, d.name));
}

test('every fixture task file reads the same with and without the fast reader', () => {
  const files = mdFiles(FIXTURES);
  assert.ok(files.length > 50, `found only ${files.length} fixture files`);
  const fastOnes: string[] = [];
  for (const file of files) {
    const content = fs.readFileSync(file);
    const { fast, slow } = both(content);
    assert.deepEqual(fast, slow, path.relative(FIXTURES, file));
    const source = sourceOf(content);
    if (source !== undefined && fastFields(source) !== undefined) fastOnes.push(path.relative(FIXTURES, file));
  }
  // Backlog.md's and taskmd's usual files take the fast path; the nasty fixtures must not.
  for (const name of ['back-1 - Set-up-CI.md', 'back-12 - Polish-the-ui.md', 'back-2 - Build-the-API.md', '002-write-parser.md', 'OURS-READY.md', 'aliases.md', 'text-values.md']) {
    assert.ok(fastOnes.some((f) => path.basename(f) === name), `${name} did not take the fast path`);
  }
  for (const name of ['alias-loop.md', 'bad-yaml.md', 'duplicate-key.md', 'full.md', 'id-map.md', 'list-frontmatter.md', 'scalar-frontmatter.md']) {
    assert.ok(!fastOnes.some((f) => path.basename(f) === name), `${name} took the fast path`);
  }
});

test('the generated Backlog.md and console task files (and a long folded title) all take the fast path and read the same', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tasks-fmfast-'));
  try {
    const backlog = generateBacklogTasks(path.join(tmp, 'b'), 40);
    generateTasks(path.join(tmp, 'ours'), 40);
    // Backlog.md writes a title longer than about 80 characters folded over lines (js-yaml's `>-`).
    fs.writeFileSync(path.join(backlog, 'tasks', 'task-41 - Long.md'), `---\nid: TASK-41\ntitle: >-\n  Standby replicas record coordination telemetry that the Prometheus pull path\n  never serves\nstatus: Done\nassignee:\n  - '@codex'\ncreated_date: '2026-09-03 23:02'\nlabels:\n  - needs-triage\ndependencies: []\nordinal: 120000\n---\n\n## Description\n`);
    const files = [...mdFiles(backlog), ...mdFiles(path.join(tmp, 'ours'))];
    assert.equal(files.length, 81);
    for (const file of files) {
      const content = fs.readFileSync(file);
      const source = sourceOf(content);
      assert.ok(source !== undefined && fastFields(source) !== undefined, `${path.basename(file)} did not take the fast path`);
      const { fast, slow } = both(content);
      assert.equal(fast.ok, true);
      assert.deepEqual(fast, slow, path.basename(file));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('the frontmatter ends at the first --- line, whatever the lines around it hold', () => {
  const r = rng(7);
  const PIECES = ['---', '--- ', '---\t', '----', ' ---', '---x', '--- # c', 'a: b', '', ' ', 'body', '\u2028---', '---\u2028', '...', '\r', '-- -'];
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(r() * 7);
    const parts: string[] = [];
    for (let k = 0; k < n; k++) parts.push(pick(r, PIECES));
    const eol = pick(r, ['\n', '\n', '\r\n', '\r']);
    const content = Buffer.from(`${r() < 0.1 ? '\ufeff' : ''}${parts.join(eol)}${r() < 0.5 ? eol : ''}`);
    const split = referenceSplit(content);
    const want = typeof split === 'string' ? split : split.body;
    const got = bodyOf(both(content).slow);
    // An all-blank file is 'empty' before any --- is looked for.
    if (got !== 'empty') assert.equal(got, want, `case ${i}: ${JSON.stringify(content.toString())}`);
  }
});

/** A small seeded generator (mulberry32), so a failure is the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['id', 'title', 'status', 'labels', 'assignee', 'id', 'title', 'depends_on', 'created_date', '__proto__', 'constructor',
  'toString', 'a.b', 'x-y', 'a/b', '1', '0012', 'null', 'Null', '~', 'key with space', 'k#', '#k', '-k', 'a:b', 'é', '"q"', "'q'", '? k', '&k', '[k]', '<<', 'a.', 'true', 'x'.repeat(1100)];
const ATOMS = ['plain', 'To Do', 'a  b', '', '', '~', 'null', 'Null', 'NULL', 'nuLL', '@dave', '`x`', "it's", 'say "hi"', 'a: b', 'a:b', 'a #b',
  'a#b', '#c', '&a', '*a', '!t', '!!str x', '|', '>-', '%x', ',x', '?x', ':x', '-x', '- x', '-', '[a', 'a]', '{a}', '{a: b}', 'ü日本', '\u00a0x\u00a0',
  'x\\y', "'q'", "'it''s'", "'a'b'", "''", "''''", '"q"', '""', '"a\\"b"', '"a\\nb"', '"', "'", '---', '...', 'http://x.y/z?a=1#f', '1e3',
  '0012', 'true', 'a:', 'x ', 'x  # c', '\ufeffx', 'a\tb', 'TASK-12', "'2025-06-08 12:34'", '*', '@', '`', 'a, b', '日本: 語', '\u2028', '😀', '-- x', '=', '<<', 'a\u0085b'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function scalarText(r: () => number): string {
  const n = r() < 0.8 ? 1 : 2;
  let s = '';
  for (let i = 0; i < n; i++) s += (i > 0 ? pick(r, [' ', '', ', ', ': ', ' #']) : '') + pick(r, ATOMS);
  return s;
}

function flowText(r: () => number): string {
  const items: string[] = [];
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) items.push(r() < 0.15 ? `[${pick(r, ATOMS)}]` : pick(r, ATOMS));
  const body = items.map((item, i) => (i > 0 ? pick(r, [',', ', ', ' ,', ' , ', ',  ']) : '') + item).join('');
  return `[${pick(r, ['', ' '])}${body}${pick(r, ['', '', ',', ' '])}]${pick(r, ['', '', ' ', ' # c', 'x'])}`;
}

function blockListText(r: () => number): string {
  const indent = pick(r, ['', '  ', '  ', '    ', ' ']);
  const lines: string[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const item = r() < 0.1 ? flowText(r) : scalarText(r);
    lines.push(`${r() < 0.05 ? pick(r, ['', '  ', '   ', '      ']) : indent}${pick(r, ['- ', '- ', '-  ', '-'])}${item}`);
    if (r() < 0.08) lines.push(pick(r, ['', '   ', `${indent}  more`, `${indent}  k: v`, '  # c', `${indent}  - nested`]));
  }
  return lines.join('\n');
}

/** A block scalar (`title: >-` and its lines, as Backlog.md writes a long title), now and then malformed. */
function blockScalarText(r: () => number): string {
  const indent = pick(r, ['  ', '  ', '    ', ' ']);
  const lines: string[] = [];
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const odd = r() < 0.1 ? pick(r, ['', '   ', ' ', `${indent} `, `${indent}  `]) : indent;
    lines.push(`${odd}${scalarText(r)}${r() < 0.05 ? ' ' : ''}`);
    if (r() < 0.1) lines.push(pick(r, ['', '  ']));
  }
  return `${pick(r, ['>-', '>-', '>', '|-', '|', '>+', '|+', '>2-', '>- # c', '>-  ', '> -'])}\n${lines.join('\n')}`;
}

/** One generated frontmatter: mostly the common shapes, laced with the nasty ones. */
function frontmatterText(r: () => number): string {
  const lines: string[] = [];
  const n = Math.floor(r() * 7);
  for (let i = 0; i < n; i++) {
    const key = r() < 0.8 ? pick(r, KEYS.slice(0, 9)) : pick(r, KEYS);
    const sep = r() < 0.9 ? ':' : pick(r, [' :', ':\t', '::']);
    const kind = r();
    if (kind < 0.45) lines.push(`${key}${sep}${pick(r, [' ', ' ', '  '])}${scalarText(r)}${r() < 0.1 ? '  ' : ''}`);
    else if (kind < 0.62) lines.push(`${key}${sep} ${flowText(r)}`);
    else if (kind < 0.8) lines.push(`${key}${sep} ${blockScalarText(r)}`);
    else if (kind < 0.93) lines.push(`${key}${sep}${pick(r, ['', ' '])}\n${blockListText(r)}`);
    else lines.push(`${key}${sep}${pick(r, ['', ' ', ' |', ' >', ' &a x', ' *a', ' !!str', ' {a: b}'])}\n${pick(r, ['  x', '  k: v', '', '# c', '...', '---x', '- a', '  - a', 'k: *a'])}`);
    if (r() < 0.05) lines.push(pick(r, ['', '  ', '# comment', '  # indented comment', '%YAML 1.2', '? k', ': v']));
  }
  if (r() < 0.05) lines.unshift(pick(r, ['  ', '', '\ufeff']));
  return lines.join('\n');
}

test('thousands of generated frontmatters: the fast reader declines or agrees with the yaml path', () => {
  const r = rng(20261207);
  let taken = 0;
  let declined = 0;
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const source = frontmatterText(r);
    const file = `${r() < 0.05 ? '\ufeff' : ''}---\n${source}\n---\nbody ${i}\n`;
    const content = Buffer.from(r() < 0.1 ? file.replaceAll('\n', '\r\n') : file);
    const { fast, slow } = both(content);
    assert.deepEqual(fast, slow, `case ${i}:\n${source}`);
    const read = fastFields(source);
    if (read === undefined) {
      declined++;
      continue;
    }
    taken++;
    // Taken: the slow path read the same fields (not an error the fast reader missed).
    assert.equal(slow.ok, true, `case ${i} was taken but yaml refuses it:\n${source}`);
    if (slow.ok) assert.deepEqual(read, slow.fields, `case ${i}:\n${source}`);
  }
  // The generator must exercise both sides, or this test proves nothing.
  assert.ok(taken > N / 10, `only ${taken} of ${N} generated frontmatters took the fast path`);
  assert.ok(declined > N / 10, `only ${declined} of ${N} generated frontmatters were declined`);
});

test('the fast reader declines what only the yaml path reads right, and keeps __proto__ as data', () => {
  for (const source of ['a: 1\na: 2', 'a: x # c', 'a: &x y\nb: *x', 'a: |\n   x\n  y', 'a: >-\n  x\n\n  y', 'a: >+\n  x', 'a: "x\\ty"', 'a: x\n  y', 'a:\n  b: c', 'a: [a, [b]]',
    'a: [a, ]', 'a: {b: c}', '? a\n: b', 'a: \'x\ny\'', 'a:\tx', '- a', 'a', 'a: b: c', 'a: x:', 'a:\n  - x\n    y', '%YAML 1.2\n---\na: b']) {
    assert.equal(fastFields(source), undefined, JSON.stringify(source));
  }
  const fields = fastFields('__proto__: x\nlist:\n- \'a\'\'s\'\n- "b"\n-\n- ~\nflow: [ @c , \'d, e\', "f" ]\nempty: []\nnone:\nq: \'\'\nlong: >-\n  a: b #c\n  d\n\nlit: |\n  e\n  f');
  assert.ok(fields !== undefined);
  assert.equal(Object.getPrototypeOf(fields), Object.prototype);
  assert.deepEqual(Object.keys(fields), ['__proto__', 'list', 'flow', 'empty', 'none', 'q', 'long', 'lit']);
  assert.deepEqual({ ...fields }, { ['__proto__']: 'x', list: ["a's", 'b', null, null], flow: ['@c', 'd, e', 'f'], empty: [], none: null, q: '', long: 'a: b #c d', lit: 'e\nf\n' });
});
